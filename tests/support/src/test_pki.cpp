#include "orderly/test/test_pki.hpp"

#include <cstdlib>
#include <stdexcept>

namespace orderly::test {

namespace {
const std::string kNewKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
}

TestPki::Issued TestPki::make_ca(const std::string& name) {
  Issued ca{dir_ / (name + ".pem"), dir_ / (name + ".key")};
  openssl("req -x509 " + kNewKey + " -days 2 -subj /CN=" + name + " -keyout " + ca.key_file.string() + " -out " +
          ca.cert_file.string());
  return ca;
}

TestPki::Issued TestPki::issue(const Issued& ca, const std::string& name, const std::string& extensions) {
  Issued c{dir_ / (name + ".pem"), dir_ / (name + ".key")};
  const auto csr = dir_ / (name + ".csr"), ext = dir_ / (name + ".ext");
  write_file(ext, extensions);
  openssl("req -new " + kNewKey + " -subj /CN=" + name + " -keyout " + c.key_file.string() + " -out " + csr.string());
  openssl("x509 -req -days 2 -set_serial " + std::to_string(++serial_) + " -in " + csr.string() + " -CA " +
          ca.cert_file.string() + " -CAkey " + ca.key_file.string() + " -extfile " + ext.string() + " -out " +
          c.cert_file.string());
  return c;
}

TestPki::Issued TestPki::server(const Issued& ca, const std::string& name, const std::string& subject_alt_names) {
  return issue(ca, name, "subjectAltName=" + subject_alt_names + "\nextendedKeyUsage=serverAuth\n");
}

TestPki::Issued TestPki::client(const Issued& ca, const std::string& name) {
  return issue(ca, name, "extendedKeyUsage=clientAuth\n");
}

void TestPki::openssl(const std::string& args) {
  const auto log = dir_ / "openssl.log";
  const std::string cmd = "openssl " + args + " >" + log.string() + " 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("TestPki: `" + cmd + "` failed:\n" + read_file(log));
}

}  // namespace orderly::test
