#include "platform_sim.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace orderly::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using gateway::tcec::Ret;

// The answer Data each push is acknowledged with (T/CEC 102.4).
json acknowledgement(const std::string& kind, const json& data) {
  if (kind == "notification_charge_order_info")
    return {{"StartChargeSeq", data.value("StartChargeSeq", "")}, {"ConnectorID", data.value("ConnectorID", "")},
            {"ConfirmResult", 0}};
  return {{"Status", 0}};
}

// The business fields the platform cannot do without; both spellings the field uses accepted.
std::string missing_field(const std::string& kind, const json& data) {
  using gateway::tcec::either;
  if (kind == "notification_stationStatus")
    return either(data, {"ConnectorStatusInfo"}) ? "" : "ConnectorStatusInfo";
  if (kind == "notification_charge_order_info") {
    for (auto names : {std::initializer_list<std::string_view>{"StartChargeSeq"}, {"TotalPower"},
                       {"TotalElecMoney", "TotalElectMoney"}, {"TotalSeviceMoney", "TotalServiceMoney"},
                       {"ChargeDetails"}})
      if (!either(data, names)) return std::string(*names.begin());
  }
  if (kind == "orderly_notification_dr_result")
    for (const char* name : {"EventID", "Slots", "BaselineEnergy", "ActualEnergy", "DeliveredEnergy"})
      if (!data.contains(name)) return name;
  return "";
}

// Empty: do not answer (the platform hangs).
using Handler = std::function<std::optional<http::response<http::string_body>>(const http::request<http::string_body>&)>;

template <typename Stream>
void session(std::shared_ptr<Stream> stream, std::shared_ptr<beast::flat_buffer> buffer, Handler handle) {
  auto request = std::make_shared<http::request<http::string_body>>();
  http::async_read(*stream, *buffer, *request, [=](beast::error_code ec, std::size_t) {
    if (ec) return;
    auto answer = handle(*request);
    if (!answer) {
      // Held open, unanswered, until the server stops.
      auto hold = std::make_shared<char>();
      stream->async_read_some(asio::buffer(hold.get(), 1), [stream, hold](beast::error_code, std::size_t) {});
      return;
    }
    auto response = std::make_shared<http::response<http::string_body>>(std::move(*answer));
    http::async_write(*stream, *response, [=](beast::error_code wec, std::size_t) {
      if (!wec && response->keep_alive()) session(stream, buffer, handle);
    });
  });
}

}  // namespace

struct PlatformSim::Server {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::optional<ssl::context> tls;
  std::thread thread;

  void accept(const Handler& handle) {
    acceptor.async_accept([this, handle](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto buffer = std::make_shared<beast::flat_buffer>();
      if (!tls) {
        session(std::make_shared<tcp::socket>(std::move(socket)), buffer, handle);
      } else {
        auto stream = std::make_shared<ssl::stream<tcp::socket>>(std::move(socket), *tls);
        stream->async_handshake(ssl::stream_base::server, [stream, buffer, handle](beast::error_code hec) {
          if (!hec) session(stream, buffer, handle);
        });
      }
      accept(handle);
    });
  }
};

PlatformSim::PlatformSim(PlatformSimOptions options) : options_(std::move(options)) {}

PlatformSim::~PlatformSim() { stop(); }

void PlatformSim::start() {
  if (server_) return;
  auto server = std::make_unique<Server>();
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), port_);
  server->acceptor.open(at.protocol());
  server->acceptor.set_option(asio::socket_base::reuse_address(true));
  server->acceptor.bind(at);
  server->acceptor.listen();
  port_ = server->acceptor.local_endpoint().port();
  if (!options_.tls_cert_file.empty()) {
    auto& tls = server->tls.emplace(ssl::context::tls_server);
    tls.use_certificate_chain_file(options_.tls_cert_file.string());
    tls.use_private_key_file(options_.tls_key_file.string(), ssl::context::pem);
    if (!options_.tls_client_ca_file.empty()) {
      tls.load_verify_file(options_.tls_client_ca_file.string());
      tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
  }
  server->accept([this](const http::request<http::string_body>& request)
                     -> std::optional<http::response<http::string_body>> {
    {
      std::lock_guard lock(mutex_);
      ++requests_;
      if (options_.stall) return std::nullopt;
    }
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.set(http::field::content_type, "application/json; charset=utf-8");
    const std::string target(request.target());
    response.body() = answer_push(target.substr(target.rfind('/') + 1), request.body(),
                                  std::string(request[http::field::authorization]),
                                  std::string(request["Orderly-Message-Id"]));
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return response;
  });
  server->thread = std::thread([s = server.get()] { s->io.run(); });
  server_ = std::move(server);
}

void PlatformSim::stop() {
  if (!server_) return;
  server_->io.stop();
  server_->thread.join();
  server_.reset();  // closes the listener and every connection with the io_context
}

std::string PlatformSim::url() const {
  return (options_.tls_cert_file.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(port_) +
         "/evcs/v1";
}

void PlatformSim::set_stall(bool stall) {
  std::lock_guard lock(mutex_);
  options_.stall = stall;
}

int PlatformSim::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::string PlatformSim::answer_push(const std::string& kind, const std::string& body, const std::string& authorization,
                                     const std::string& message_id) {
  const auto& secrets = options_.to_platform;
  const auto reply = [&](Ret ret, const std::string& msg, const json& data) {
    return gateway::tcec::encode_response({ret, msg, data}, secrets);
  };
  const auto decoded = gateway::tcec::decode_request(body, secrets);
  if (!decoded.ok()) return reply(decoded.ret, decoded.error, nullptr);
  if (decoded.value.operator_id != options_.gateway_operator_id) return reply(Ret::envelope, "unknown OperatorID", nullptr);
  const json& data = decoded.value.data;
  std::lock_guard lock(mutex_);
  if (kind == "query_token") {
    if (data.value("OperatorSecret", "") != secrets.operator_secret)
      return reply(Ret::ok, "", {{"OperatorID", data.value("OperatorID", "")}, {"SuccStat", 1}, {"FailReason", 2}});
    const std::string token = "sim-token-" + std::to_string(++tokens_issued_);
    tokens_.insert(token);
    return reply(Ret::ok, "", {{"OperatorID", options_.gateway_operator_id}, {"SuccStat", 0}, {"AccessToken", token},
                               {"TokenAvailableTime", options_.token_validity_s}, {"FailReason", 0}});
  }
  if (!authorization.starts_with("Bearer ") || !tokens_.contains(authorization.substr(7)))
    return reply(Ret::token, "token unknown", nullptr);
  if (const auto missing = missing_field(kind, data); !missing.empty())
    return reply(Ret::data, "Data." + missing + " is missing", nullptr);
  if (!message_id.empty() && !seen_ids_.insert(message_id).second) {
    ++duplicates_;
  } else {
    pushes_.push_back({kind, message_id, data});
  }
  return reply(Ret::ok, "", acknowledgement(kind, data));
}

std::vector<PlatformSim::Push> PlatformSim::pushes() const {
  std::lock_guard lock(mutex_);
  return pushes_;
}

std::vector<PlatformSim::Push> PlatformSim::pushes(const std::string& kind) const {
  std::vector<Push> out;
  for (auto& p : pushes())
    if (p.kind == kind) out.push_back(std::move(p));
  return out;
}

int PlatformSim::duplicates() const {
  std::lock_guard lock(mutex_);
  return duplicates_;
}

int PlatformSim::tokens_issued() const {
  std::lock_guard lock(mutex_);
  return tokens_issued_;
}

void PlatformSim::revoke_tokens() {
  std::lock_guard lock(mutex_);
  tokens_.clear();
}

std::string PlatformSim::envelope(const json& data) const {
  return gateway::tcec::encode_request({options_.operator_id, data, "20261207083000", "0001"}, options_.from_platform);
}

PlatformSim::Answer PlatformSim::post(const std::string& gateway_url, const std::string& interface,
                                      const std::string& body, const std::string& authorization) {
  // gateway_url is "http://127.0.0.1:<port>".
  const auto colon = gateway_url.rfind(':');
  const std::string host = gateway_url.substr(7, colon - 7);
  const std::string port = gateway_url.substr(colon + 1);
  const auto t0 = std::chrono::steady_clock::now();
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(tcp::resolver(io).resolve(host, port));
  http::request<http::string_body> request{http::verb::post, "/api/v1/tcec/" + interface, 11};
  request.set(http::field::host, host);
  request.set(http::field::content_type, "application/json; charset=utf-8");
  if (!authorization.empty()) request.set(http::field::authorization, authorization);
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  Answer answer;
  answer.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  answer.http_status = static_cast<int>(response.result_int());
  answer.decoded = gateway::tcec::decode_response(response.body(), options_.from_platform);
  return answer;
}

PlatformSim::Answer PlatformSim::pull(const std::string& gateway_url, const std::string& interface, const json& data) {
  if (pull_token_.empty()) {
    const auto token = post(gateway_url, "query_token",
                            envelope({{"OperatorID", options_.operator_id},
                                      {"OperatorSecret", options_.from_platform.operator_secret}}),
                            "");
    if (!token.decoded.ok() || token.decoded.value.ret != Ret::ok) return token;
    pull_token_ = token.decoded.value.data.value("AccessToken", "");
  }
  return post(gateway_url, interface, envelope(data), "Bearer " + pull_token_);
}

}  // namespace orderly::test
