#pragma once
// How a session type outside server.cpp (channel_session.cpp) joins the server's open sessions:
// counted against max_connections and closed by Server::stop().
#include <cstdint>
#include <functional>
#include <memory>

namespace orderly::web {

class Closable {
 public:
  virtual ~Closable() = default;
  virtual void close() = 0;
};

struct SessionRegistry {
  std::function<std::uint64_t(std::weak_ptr<Closable>)> add;
  std::function<void(std::uint64_t)> remove;
};

}  // namespace orderly::web
