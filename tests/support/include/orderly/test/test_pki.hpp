#pragma once
// A throwaway PKI for TLS tests, made with the openssl command line in a temporary directory
// removed with the object: CAs, server certificates with subjectAltName, client certificates.
// EC P-256 keys, made in milliseconds unlike RSA. Valid for two days from now, so a test never
// meets an expired or not-yet-valid certificate whatever the time of day.
#include <filesystem>
#include <string>

#include "orderly/test/support.hpp"

namespace orderly::test {

class TestPki {
 public:
  struct Issued {
    std::filesystem::path cert_file, key_file;  // PEM
  };

  // A self-signed CA with CN=name: name.pem and name.key.
  Issued make_ca(const std::string& name);
  // A certificate for CN=name signed by `ca`; `extensions` are x509v3 config lines.
  Issued issue(const Issued& ca, const std::string& name, const std::string& extensions);
  // A TLS server certificate naming `subject_alt_names` ("IP:127.0.0.1,DNS:localhost").
  Issued server(const Issued& ca, const std::string& name, const std::string& subject_alt_names);
  // A TLS client certificate.
  Issued client(const Issued& ca, const std::string& name);

 private:
  // Throws std::runtime_error with openssl's output when it fails.
  void openssl(const std::string& args);

  TempDir dir_;
  int serial_ = 0;
};

}  // namespace orderly::test
