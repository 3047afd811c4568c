#pragma once
// The thread that owns one bus (a Modbus port or host, a DL/T 645 port): runs submitted tasks
// first, then the due device polls in round-robin order, one at a time, so requests on the
// bus never overlap and every device gets its turn. Shared by ModbusBusWorker and Dlt645Bus.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace orderly::drivers::detail {

template <class Link>
class BusThread {
 public:
  using Steady = std::chrono::steady_clock;
  using Poll = std::function<Steady::duration(Link&)>;
  using Task = std::function<void(Link&)>;

  BusThread() = default;
  BusThread(const BusThread&) = delete;
  BusThread& operator=(const BusThread&) = delete;
  ~BusThread() { stop(); }

  void start(Link& link) {
    thread_ = std::thread([this, &link] { run(link); });
  }

  void stop() {
    {
      std::lock_guard lk(m_);
      stopping_ = true;
      tasks_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) thread_.join();
  }

  int add_poller(Poll poll) {
    std::lock_guard lk(m_);
    const int id = next_id_++;
    pollers_.push_back({id, std::move(poll), Steady::now()});
    cv_.notify_all();
    return id;
  }

  // After return the poll is never started again (a running one has finished).
  void remove_poller(int id) {
    std::unique_lock lk(m_);
    std::erase_if(pollers_, [id](const Poller& p) { return p.id == id; });
    if (std::this_thread::get_id() != thread_.get_id()) cv_.wait(lk, [&] { return running_id_ != id; });
  }

  void submit(Task task) {
    std::lock_guard lk(m_);
    tasks_.push_back(std::move(task));
    cv_.notify_all();
  }

  // Waits until `t`; returns false when the bus is stopping (then at once).
  bool sleep_until(Steady::time_point t) {
    std::unique_lock lk(m_);
    return !cv_.wait_until(lk, t, [this] { return stopping_; });
  }

  bool stopping() {
    std::lock_guard lk(m_);
    return stopping_;
  }

 private:
  struct Poller {
    int id;
    Poll poll;
    Steady::time_point due;
  };

  void run(Link& link) {
    std::unique_lock lk(m_);
    while (!stopping_) {
      if (!tasks_.empty()) {
        Task t = std::move(tasks_.front());
        tasks_.pop_front();
        lk.unlock();
        t(link);
        lk.lock();
        continue;
      }
      const auto now = Steady::now();
      std::optional<std::size_t> chosen;
      for (std::size_t k = 0; k < pollers_.size(); ++k) {
        const std::size_t i = (rr_ + k) % pollers_.size();
        if (pollers_[i].due <= now) {
          chosen = i;
          break;
        }
      }
      if (chosen) {
        rr_ = *chosen + 1;
        Poll poll = pollers_[*chosen].poll;
        const int id = pollers_[*chosen].id;
        running_id_ = id;
        lk.unlock();
        const auto delay = poll(link);
        lk.lock();
        running_id_ = 0;
        for (auto& p : pollers_)
          if (p.id == id) p.due = Steady::now() + delay;
        cv_.notify_all();
        continue;
      }
      if (pollers_.empty()) {
        cv_.wait(lk);
      } else {
        auto earliest = pollers_.front().due;
        for (const auto& p : pollers_) earliest = std::min(earliest, p.due);
        cv_.wait_until(lk, earliest);
      }
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<Task> tasks_;
  std::vector<Poller> pollers_;
  int next_id_ = 1;
  std::size_t rr_ = 0;
  int running_id_ = 0;
  std::thread thread_;
};

}  // namespace orderly::drivers::detail
