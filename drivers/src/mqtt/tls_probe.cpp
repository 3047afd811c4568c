#include "tls_probe.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <memory>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace orderly::drivers::mqtt_tls {
namespace {

constexpr const char* kConnectPrefix = "connect: ";
constexpr const char* kResolvePrefix = "cannot resolve host: ";

// The reason part of OpenSSL's last queued error ("key values mismatch"), or `fallback`.
std::string openssl_error(const std::string& fallback) {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : fallback;
}

class Socket {
 public:
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

  // Connects with the send/receive timeouts set, so neither connect() nor SSL I/O blocks longer.
  std::string connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
      return std::string(kResolvePrefix) + ::gai_strerror(rc);
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
    std::string why = std::string(kResolvePrefix) + "no address";
    for (const addrinfo* a = found; a; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) continue;
      timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
      ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0) return {};
      why = std::string(kConnectPrefix) + std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
    }
    return why;
  }

 private:
  int fd_ = -1;
};

bool is_ip_address(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::string probe(const ProbeTarget& t, std::chrono::milliseconds timeout) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (!ctx) return openssl_error("cannot create a TLS context");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (t.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get()) != 1
                        : SSL_CTX_load_verify_locations(ctx.get(), t.ca_file.c_str(), nullptr) != 1)
    return "cannot load the CA certificates: " + openssl_error("unknown error");
  if (!t.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), t.cert_file.c_str()) != 1)
      return "cannot load the client certificate: " + openssl_error("unknown error");
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), t.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1)
      return openssl_error("the private key does not match the certificate");
  }

  Socket sock;
  if (auto why = sock.connect(t.host, t.port, timeout); !why.empty()) return why;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  if (!ssl) return openssl_error("cannot create a TLS session");
  SSL_set_fd(ssl.get(), sock.fd());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip_address(t.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, t.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, t.host.c_str(), 0);
    SSL_set_tlsext_host_name(ssl.get(), t.host.c_str());
  }
  if (SSL_connect(ssl.get()) != 1) {
    if (const long v = SSL_get_verify_result(ssl.get()); v != X509_V_OK) {
      ERR_clear_error();
      return std::string("certificate verify failed (") + X509_verify_cert_error_string(v) + ")";
    }
    return openssl_error(errno ? std::string("handshake: ") + std::strerror(errno) : "the broker closed the handshake");
  }
  // In TLS 1.3 the broker judges our certificate after our side of the handshake is done
  // (RFC 8446 section 4.4.2): its refusal arrives as an alert on the first read. Silence until
  // the timeout means it accepted us and waits for our CONNECT.
  char byte = 0;
  errno = 0;
  if (SSL_read(ssl.get(), &byte, 1) <= 0) {
    const int err = SSL_get_error(ssl.get(), 0);
    if (err == SSL_ERROR_SSL) return openssl_error("the broker refused the session");
    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0))
      return "the broker closed the connection after the handshake";
  }
  ERR_clear_error();
  return {};
}

bool unreachable(const std::string& failure) {
  return failure.rfind(kConnectPrefix, 0) == 0 || failure.rfind(kResolvePrefix, 0) == 0;
}

std::string advice(const std::string& failure, const std::string& host) {
  auto has = [&](const char* s) { return failure.find(s) != std::string::npos; };
  if (has("mismatch") && (has("hostname") || has("IP address")))
    return "the broker's certificate does not name \"" + host +
           "\" in its subjectAltName; check [mqtt] host or make the broker's certificate for that name";
  if (has("certificate verify failed"))
    return "the broker's certificate is not signed by a CA in [mqtt] ca_file (empty = the system trust store), "
           "or is expired; check [mqtt] ca_file";
  if (has("CA certificates")) return "check [mqtt] ca_file";
  if (has("key values mismatch") || has("private key")) return "[mqtt] key_file is not the private key of [mqtt] cert_file";
  if (has("client certificate")) return "check [mqtt] cert_file";
  if (has("alert") || has("refused the session") || has("closed the connection after"))
    return "the broker refused the client certificate; check [mqtt] cert_file/key_file against the broker's cafile "
           "(a broker with require_certificate true needs one signed by its CA)";
  if (has("wrong version number") || has("packet length too long") || has("unexpected eof") ||
      has("record layer failure"))
    return "the broker's port does not speak TLS; check [mqtt] port (8883 is the usual TLS port) and the broker's listener";
  if (unreachable(failure)) return "check that mosquitto runs and [mqtt] host/port";
  return "check [mqtt] ca_file, cert_file and key_file";
}

}  // namespace orderly::drivers::mqtt_tls
