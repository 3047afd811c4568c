// The [platform] transport keys take effect: HTTPS checked against ca_file, the client
// certificate the platform requires, the proxy, and the request timeout (a platform that hangs).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orderly/test/test_pki.hpp"
#include "platform_site.hpp"

namespace orderly::test {
namespace {

using namespace std::chrono;
using ::testing::HasSubstr;

constexpr const char* kStatus = "notification_stationStatus";

struct Pki {
  TestPki pki;
  TestPki::Issued ca = pki.make_ca("platform-ca");
  TestPki::Issued server = pki.server(ca, "platform", "IP:127.0.0.1");
  TestPki::Issued client = pki.client(ca, "gateway");
};

PlatformSimOptions https(const Pki& p) {
  auto o = PlatformSite::sim_options();
  o.tls_cert_file = p.server.cert_file;
  o.tls_key_file = p.server.key_file;
  o.tls_client_ca_file = p.ca.cert_file;
  return o;
}

std::string tls_keys(const Pki& p, bool with_ca, bool with_client) {
  std::string keys;
  if (with_ca) keys += "ca_file = \"" + p.ca.cert_file.string() + "\"\n";
  if (with_client)
    keys += "client_cert_file = \"" + p.client.cert_file.string() + "\"\nclient_key_file = \"" +
            p.client.key_file.string() + "\"\n";
  return keys;
}

// The reason the outbox gives once the first attempt has failed.
std::string first_error(PlatformSite& site) {
  std::string error;
  wait_until([&] {
    error = site.status()["platform"].value("last_error", "");
    return !error.empty();
  });
  return error;
}

TEST(PlatformTransport, HttpsWithTheCaFileAndAClientCertificateDelivers) {
  Pki p;
  PlatformSite site(https(p), tls_keys(p, true, true));
  site.online("p1");
  ASSERT_TRUE(wait_until([&] { return site.platform.pushes(kStatus).size() == 1; })) << first_error(site);
}

TEST(PlatformTransport, WithoutTheCaFileThePlatformsCertificateIsRefused) {
  Pki p;
  PlatformSite site(https(p), tls_keys(p, false, true));
  site.online("p1");
  EXPECT_THAT(first_error(site), HasSubstr("certificate"));
  EXPECT_TRUE(site.platform.pushes().empty());
}

TEST(PlatformTransport, WithoutTheClientCertificateThePlatformRefusesTheConnection) {
  Pki p;
  PlatformSite site(https(p), tls_keys(p, true, false));
  site.online("p1");
  EXPECT_THAT(first_error(site), HasSubstr("query_token: "));
  EXPECT_TRUE(site.platform.pushes().empty());
  EXPECT_EQ(site.platform.requests(), 0) << "no request gets through without the client certificate";
}

TEST(PlatformTransport, TheProxyCarriesEveryRequest) {
  // The configured URL's host does not exist; only the proxy (the simulator, answering absolute
  // URIs as its own) can answer, so a delivery shows that every request went through it.
  PlatformSite site(PlatformSite::sim_options(), "proxy = \"http://{sim}\"\n", "http://platform.invalid/evcs/v1");
  site.online("p1");
  ASSERT_TRUE(wait_until([&] { return site.platform.pushes(kStatus).size() == 1; })) << first_error(site);
  EXPECT_EQ(site.platform.tokens_issued(), 1);
}

TEST(PlatformTransport, APlatformThatHangsIsGivenUpOnAfterTimeoutS) {
  PlatformSite site(PlatformSite::sim_options(), "timeout_s = 1\n");
  site.platform.set_stall(true);
  const auto t0 = steady_clock::now();
  site.online("p1");
  EXPECT_THAT(first_error(site), HasSubstr("timed out after 100"));
  EXPECT_LT(steady_clock::now() - t0, seconds(5));
  EXPECT_GE(site.platform.requests(), 1);
}

}  // namespace
}  // namespace orderly::test
