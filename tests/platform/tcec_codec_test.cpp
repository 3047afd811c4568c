// The T/CEC 102 envelope (gateway/tcec.hpp) against examples worked out independently: the RFC
// 2202 HMAC-MD5 vectors, and Data and Sig made by the openssl command line inside the test.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "orderly/gateway/tcec.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway::tcec {
namespace {

using json = nlohmann::json;

// The keys of the worked example in docs/platform-api.md.
Secrets example_secrets() { return {"OpSecret01234567", "1234567890abcdef", "fedcba0987654321", "SigSecret0123456"}; }
constexpr const char* kHexKey = "31323334353637383930616263646566";  // "1234567890abcdef"
constexpr const char* kHexIv = "66656463626130393837363534333231";   // "fedcba0987654321"
constexpr const char* kPayload = R"({"OperatorID":"MA59J8YL8","SuccStat":0})";
// openssl enc -aes-128-cbc -K <kHexKey> -iv <kHexIv> -base64 -A of kPayload.
constexpr const char* kPayloadData = "HZjSFiIshoIoZOX6vv0L5+wsoPe+5bCj8rxL5HF2zSAt3itcQFA6MvW9S2Z2heOq";

// Runs a shell command and returns its stdout without the trailing newline.
std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  EXPECT_EQ(pclose(pipe), 0) << command;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string openssl_encrypt(const test::TempDir& dir, const std::string& plain) {
  const auto file = test::write_file(dir / "plain.txt", plain);
  return shell("openssl enc -aes-128-cbc -K " + std::string(kHexKey) + " -iv " + kHexIv + " -base64 -A -in " +
               file.string());
}

std::string openssl_hmac_md5(const test::TempDir& dir, const std::string& key, const std::string& text) {
  const auto file = test::write_file(dir / "text.txt", text);
  // "-r" prints "<hex> *<file>": the first 32 characters are the digest.
  std::string line = shell("openssl dgst -md5 -hmac '" + key + "' -r " + file.string());
  std::string hex = line.substr(0, 32);
  for (auto& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return hex;
}

TEST(TcecCodec, HmacMd5MatchesRfc2202) {
  EXPECT_EQ(hmac_md5_hex("Jefe", "what do ya want for nothing?"), "750C783E6AB0B503EAA86E310A5DB738");
  EXPECT_EQ(hmac_md5_hex(std::string(16, '\x0b'), "Hi There"), "9294727A3638BB1C13F48EF8158BFC9D");
}

TEST(TcecCodec, DataMatchesTheWorkedExample) {
  EXPECT_EQ(encrypt_data(kPayload, example_secrets()), kPayloadData);
  EXPECT_EQ(decrypt_data(kPayloadData, example_secrets()).value_or("<none>"), kPayload);
}

TEST(TcecCodec, RequestFromTheOpensslCommandLineIsVerifiedAndDecrypted) {
  test::TempDir dir;
  const std::string plain = R"({"StationIDs":["S-001"],"Note":"社区 1 号配变"})";
  const std::string data = openssl_encrypt(dir, plain);
  ASSERT_FALSE(data.empty());
  const std::string operator_id = "MA59J8YL8";
  const std::string stamp = "20261207083000";
  const std::string seq = "0001";
  const std::string sig = openssl_hmac_md5(dir, example_secrets().sig_secret, operator_id + data + stamp + seq);
  const json body = {{"OperatorID", operator_id}, {"Data", data}, {"TimeStamp", stamp}, {"Seq", seq}, {"Sig", sig}};

  const auto decoded = decode_request(body.dump(), example_secrets());
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(decoded.value.operator_id, operator_id);
  EXPECT_EQ(decoded.value.data, json::parse(plain));
  EXPECT_EQ(decoded.value.seq, seq);
}

TEST(TcecCodec, EncodedRequestIsWhatOpensslComputes) {
  test::TempDir dir;
  const Request request{"MA59J8YL8", json::parse(kPayload), "20261207083000", "0001"};
  const json body = json::parse(encode_request(request, example_secrets()));
  EXPECT_EQ(body["Data"], openssl_encrypt(dir, kPayload));
  EXPECT_EQ(body["Sig"], "369DA18B6EC54488E7A05A1B96F471F1");  // openssl dgst -md5 -hmac, see the docs
  EXPECT_EQ(body["Sig"], openssl_hmac_md5(dir, example_secrets().sig_secret,
                                          "MA59J8YL8" + body["Data"].get<std::string>() + "202612070830000001"));
}

TEST(TcecCodec, ResponseIsSignedOverRetMsgData) {
  test::TempDir dir;
  const Response response{Ret::ok, "", json{{"Status", 0}}};
  const json body = json::parse(encode_response(response, example_secrets()));
  EXPECT_EQ(body["Ret"], 0);
  EXPECT_EQ(body["Sig"], openssl_hmac_md5(dir, example_secrets().sig_secret, "0" + body["Data"].get<std::string>()));
  const auto decoded = decode_response(body.dump(), example_secrets());
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(decoded.value.data, json({{"Status", 0}}));
}

TEST(TcecCodec, ErrorAnswersAreSignedWithEmptyData) {
  test::TempDir dir;
  const json body = json::parse(encode_response({Ret::signature, "bad Sig", nullptr}, example_secrets()));
  EXPECT_EQ(body["Data"], "");
  EXPECT_EQ(body["Sig"], openssl_hmac_md5(dir, example_secrets().sig_secret, "4001bad Sig"));
  const auto decoded = decode_response(body.dump(), example_secrets());
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(decoded.value.ret, Ret::signature);
  EXPECT_TRUE(decoded.value.data.is_null());
}

json good_request() {
  return json::parse(encode_request({"MA59J8YL8", json{{"A", 1}}, "20261207083000", "0042"}, example_secrets()));
}

TEST(TcecCodec, EnvelopeFieldsMissingOrMalformedAre4003) {
  EXPECT_EQ(decode_request("not json", example_secrets()).ret, Ret::envelope);
  for (const char* field : {"OperatorID", "Data", "TimeStamp", "Seq", "Sig"}) {
    json body = good_request();
    body.erase(field);
    const auto d = decode_request(body.dump(), example_secrets());
    EXPECT_EQ(d.ret, Ret::envelope) << field;
    EXPECT_NE(d.error.find(field), std::string::npos) << d.error;
  }
  json body = good_request();
  body["TimeStamp"] = "2026-12-07";
  EXPECT_EQ(decode_request(body.dump(), example_secrets()).ret, Ret::envelope);
  body = good_request();
  body["Seq"] = 42;
  EXPECT_EQ(decode_request(body.dump(), example_secrets()).ret, Ret::envelope);
}

TEST(TcecCodec, SignatureIsCheckedBeforeDecryption) {
  json body = good_request();
  body["Data"] = "%%% not base64 %%%";  // would be 4004, but the Sig no longer matches first
  EXPECT_EQ(decode_request(body.dump(), example_secrets()).ret, Ret::signature);
  body = good_request();
  body["Sig"] = body["Sig"].get<std::string>().substr(0, 31) + "0";
  EXPECT_EQ(decode_request(body.dump(), example_secrets()).ret, Ret::signature);
  Secrets other = example_secrets();
  other.sig_secret = "AnotherSecret123";
  EXPECT_EQ(decode_request(good_request().dump(), other).ret, Ret::signature);
}

TEST(TcecCodec, UndecryptableOrNonJsonDataIs4004) {
  const auto signed_with = [](const std::string& data) {
    const auto s = example_secrets();
    return json{{"OperatorID", "X"}, {"Data", data}, {"TimeStamp", "20261207083000"}, {"Seq", "0001"},
                {"Sig", hmac_md5_hex(s.sig_secret, "X" + data + "202612070830000001")}}
        .dump();
  };
  EXPECT_EQ(decode_request(signed_with("not base64!"), example_secrets()).ret, Ret::data);
  EXPECT_EQ(decode_request(signed_with(base64_encode("short")), example_secrets()).ret, Ret::data);
  EXPECT_EQ(decode_request(signed_with(encrypt_data("[1, 2", example_secrets())), example_secrets()).ret, Ret::data);
  EXPECT_EQ(decode_request(signed_with(encrypt_data("[1, 2]", example_secrets())), example_secrets()).ret, Ret::data);
  Secrets wrong_key = example_secrets();
  wrong_key.data_secret = "0000000000000000";
  EXPECT_EQ(decode_request(signed_with(encrypt_data(R"({"A":1})", wrong_key)), example_secrets()).ret, Ret::data);
}

TEST(TcecCodec, Base64RejectsNonCanonicalText) {
  EXPECT_EQ(base64_decode("TWFu").value_or("?"), "Man");
  EXPECT_EQ(base64_decode("TWE=").value_or("?"), "Ma");
  EXPECT_EQ(base64_decode("TQ==").value_or("?"), "M");
  EXPECT_FALSE(base64_decode("TQ="));
  EXPECT_FALSE(base64_decode("T=Q="));
  EXPECT_FALSE(base64_decode("TW-u"));
}

TEST(TcecCodec, TimesAreTheSitesLocalTime) {
  using namespace std::chrono;
  const TimePoint t = sys_days(year(2026) / 12 / 6) + hours(16) + minutes(30) + seconds(5);  // UTC
  EXPECT_EQ(timestamp(t, hours(8)), "20261207003005");
  EXPECT_EQ(business_time(t, hours(8)), "2026-12-07 00:30:05");
  EXPECT_EQ(parse_business_time("2026-12-07 00:30:05", hours(8)), t);
  EXPECT_FALSE(parse_business_time("2026-13-07 00:30:05", hours(8)));
  EXPECT_FALSE(parse_business_time("2026-12-07T00:30:05", hours(8)));
}

TEST(TcecCodec, EitherSpellingIsAccepted) {
  const json a = {{"TotalSeviceMoney", 1.5}};
  const json b = {{"TotalServiceMoney", 2.5}};
  EXPECT_EQ(*either(a, {"TotalSeviceMoney", "TotalServiceMoney"}), 1.5);
  EXPECT_EQ(*either(b, {"TotalSeviceMoney", "TotalServiceMoney"}), 2.5);
  EXPECT_EQ(either(b, {"ElecMoney", "ElectMoney"}), nullptr);
}

}  // namespace
}  // namespace orderly::gateway::tcec
