// [platform] and its secret file as orderly.toml readers take them (config_sections.cpp,
// read_platform): every key read, both directions' secrets, each problem at its line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_text.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/test/support.hpp"
#include "platform_site.hpp"

namespace orderly::gateway {
namespace {

using testing::errors_of;
using testing::kMinimal;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

std::string platform_section(const std::filesystem::path& secrets, const std::string& extra = "") {
  return "\n[platform]\nenabled = true\nurl = \"https://platform.example/evcs/v1\"\noperator_id = \"MA59J8YL8\"\n"
         "station_id = \"S-001\"\nsecret_file = \"" + secrets.string() + "\"\n" + extra;
}

TEST(Config, PlatformReadsEveryKeyAndBothDirectionsSecrets) {
  test::TempDir dir;
  const auto secrets = test::write_file(dir / "platform.secrets", test::kPlatformSecretsToml);
  const Config c = parse_config(kMinimal + platform_section(secrets,
                                                            "ca_file = \"/etc/ca.pem\"\nclient_cert_file = \"/c.pem\"\n"
                                                            "client_key_file = \"/c.key\"\nproxy = \"http://10.0.0.1:3128\"\n"
                                                            "connect_timeout_s = 5\ntimeout_s = 20\nretry_initial_s = 30\n"
                                                            "retry_max_s = 600\npush_interval_s = 120\n"),
                                "test.toml");
  const auto& p = c.platform;
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.station_id, "S-001");
  EXPECT_EQ(p.ca_file, "/etc/ca.pem");
  EXPECT_EQ(p.client_key_file, "/c.key");
  EXPECT_EQ(p.proxy, "http://10.0.0.1:3128");
  EXPECT_EQ(p.connect_timeout_s, 5);
  EXPECT_EQ(p.timeout_s, 20);
  EXPECT_EQ(p.retry_initial_s, 30);
  EXPECT_EQ(p.retry_max_s, 600);
  EXPECT_EQ(p.push_interval_s, 120);
  EXPECT_EQ(p.to_platform.operator_secret, "PlatformIssued01");
  EXPECT_EQ(p.to_platform.data_secret_iv, "fedcba0987654321");
  EXPECT_EQ(p.platform_operator_id, "MA0CITY01");
  EXPECT_EQ(p.from_platform.sig_secret, "SigSecretPull001");
}

TEST(Config, PlatformEnabledNeedsItsKeysAndAReadableSecretFile) {
  EXPECT_THAT(errors_of(kMinimal + "\n[platform]\nenabled = true\n"),
              ElementsAre(HasSubstr("missing required key 'url'"), HasSubstr("missing required key 'operator_id'"),
                          HasSubstr("missing required key 'station_id'"), HasSubstr("missing required key 'secret_file'")));
  EXPECT_THAT(errors_of(kMinimal + platform_section("/nonexistent/platform.secrets")),
              ElementsAre(AllOf(StartsWith("test.toml:"), HasSubstr("platform.secret_file: cannot read"))));
  // Disabled, a half-filled section is accepted: nothing of it runs.
  EXPECT_TRUE(errors_of(kMinimal + "\n[platform]\nenabled = false\nurl = \"https://x\"\n").empty());
}

TEST(Config, PlatformSecretsAreCheckedWhereTheyAreWritten) {
  test::TempDir dir;
  std::string bad = test::kPlatformSecretsToml;
  bad.replace(bad.find("1234567890abcdef"), 16, "short");
  const std::string pull_sig = "sig_secret = \"SigSecretPull001\"";
  bad.replace(bad.find(pull_sig), pull_sig.size(), "signature = \"x\"");
  const auto secrets = test::write_file(dir / "platform.secrets", bad);
  const auto errors = errors_of(kMinimal + platform_section(secrets));
  EXPECT_THAT(errors, UnorderedElementsAre(
                          AllOf(HasSubstr("platform.secret_file: " + secrets.string() + ":4:"),
                                HasSubstr("to_platform.data_secret: must be exactly 16 bytes")),
                          HasSubstr("from_platform: missing required key 'sig_secret'"),
                          AllOf(HasSubstr("unknown key"), HasSubstr("signature"))));
}

TEST(Config, PlatformRefusesWhatWouldNotWork) {
  test::TempDir dir;
  const auto secrets = test::write_file(dir / "platform.secrets", test::kPlatformSecretsToml);
  EXPECT_THAT(errors_of(kMinimal + platform_section(secrets, "client_cert_file = \"/c.pem\"\n")),
              ElementsAre(HasSubstr("give both client_cert_file and client_key_file, or neither")));
  EXPECT_THAT(errors_of(kMinimal + platform_section(secrets, "retry_initial_s = 60\nretry_max_s = 30\n")),
              ElementsAre(HasSubstr("retry_max_s: must be at least retry_initial_s (60)")));
  std::string ftp = platform_section(secrets);
  ftp.replace(ftp.find("https://"), 8, "ftp://");
  EXPECT_THAT(errors_of(kMinimal + ftp), ElementsAre(HasSubstr("platform.url: must start with https://")));
  EXPECT_THAT(errors_of(kMinimal + platform_section(secrets, "timeout_s = 0\n")), ElementsAre(HasSubstr("timeout_s")));
}

}  // namespace
}  // namespace orderly::gateway
