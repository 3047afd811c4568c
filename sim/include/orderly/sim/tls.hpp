#pragma once
// The PEM files of one end of a TLS connection, shared by the Mosquitto launcher (its listener)
// and the simulated devices (their client side).
#include <filesystem>

namespace orderly::sim {

struct TlsFiles {
  std::filesystem::path ca_file;    // the CA that signed the peer's certificate; empty = no TLS
  std::filesystem::path cert_file;  // own certificate; clients may go without one
  std::filesystem::path key_file;   // its private key
  bool enabled() const { return !ca_file.empty(); }
};

}  // namespace orderly::sim
