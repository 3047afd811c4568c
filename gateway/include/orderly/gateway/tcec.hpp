#pragma once
// The T/CEC 102 (电动汽车充换电服务信息交换) envelope, as both sides of the link use it
// (docs/platform-api.md). A request is {OperatorID, Data, TimeStamp, Seq, Sig}, an answer
// {Ret, Msg, Data, Sig}. Data is the business JSON, AES-128-CBC with PKCS#7 padding under the
// pair's DataSecret / DataSecretIV, then Base64. Sig is the uppercase hex HMAC-MD5 with SigSecret
// over OperatorID+Data+TimeStamp+Seq (request) or Ret+Msg+Data (answer), Data as sent (Base64).
// Pure functions, no I/O: the sender, the gateway's pull endpoints and the platform simulator
// all go through here, so there is one reading of the standard.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "orderly/base/clock.hpp"

namespace orderly::gateway::tcec {

// The answer codes T/CEC 102 defines (Ret).
enum class Ret : int {
  ok = 0,
  system_busy = -1,
  signature = 4001,   // Sig does not match
  token = 4002,       // Bearer token missing, unknown or expired
  envelope = 4003,    // an envelope field missing or malformed
  data = 4004,        // Data undecryptable, not JSON, or a business field missing or invalid
  internal = 500,
};

// One direction's secrets. The standard's keys are 16 ASCII characters; anything else is
// refused where the secrets are read (config_sections.cpp, read_platform), so here they are taken as given.
struct Secrets {
  std::string operator_secret;  // what query_token presents (OperatorSecret)
  std::string data_secret;      // AES-128 key, 16 bytes
  std::string data_secret_iv;   // AES-128-CBC IV, 16 bytes
  std::string sig_secret;       // HMAC-MD5 key
};

std::string base64_encode(std::string_view bytes);
// Empty for text that is not canonical padded Base64 (length a multiple of 4, standard alphabet).
std::optional<std::string> base64_decode(std::string_view text);
// Uppercase hex HMAC-MD5 of `text` under `key`.
std::string hmac_md5_hex(std::string_view key, std::string_view text);
// Data as sent: Base64 of AES-128-CBC/PKCS#7 of `plain`. Empty plain text is sent as "".
std::string encrypt_data(std::string_view plain, const Secrets& secrets);
// Empty when the text is not Base64, the length not whole blocks or the padding wrong.
std::optional<std::string> decrypt_data(std::string_view data, const Secrets& secrets);

// TimeStamp: yyyyMMddHHmmss in the site's local time.
std::string timestamp(TimePoint t, std::chrono::minutes utc_offset);
// Business times: "yyyy-MM-dd HH:mm:ss" in the site's local time.
std::string business_time(TimePoint t, std::chrono::minutes utc_offset);
// The inverse of business_time; empty for anything else.
std::optional<TimePoint> parse_business_time(std::string_view text, std::chrono::minutes utc_offset);

struct Request {
  std::string operator_id;
  nlohmann::json data;          // the business object, in the clear
  std::string timestamp;        // 14 digits
  std::string seq;              // 4 digits, "0001".."9999"
};

struct Response {
  Ret ret = Ret::ok;
  std::string msg;
  nlohmann::json data;          // null: Data sent as ""
};

// The JSON body of a request or an answer.
std::string encode_request(const Request& request, const Secrets& secrets);
std::string encode_response(const Response& response, const Secrets& secrets);

// What decoding found: ok, or the Ret code the other side is owed and why.
template <typename T>
struct Decoded {
  Ret ret = Ret::ok;
  std::string error;            // names the field at fault; empty when ok
  T value;
  bool ok() const { return ret == Ret::ok; }
};

// Checks in the standard's order: the envelope (4003), the signature (4001), then Data
// (4004: not decryptable, not a JSON object). The signature is checked before anything is
// decrypted, so an unsigned request costs no AES work and leaks nothing about the key.
Decoded<Request> decode_request(std::string_view body, const Secrets& secrets);
// The same for an answer; its own Ret is in value.ret, the decoding outcome in ret.
Decoded<Response> decode_response(std::string_view body, const Secrets& secrets);

// A field the deployed platforms spell two ways (Sevice*/Service*, ElecMoney/ElectMoney,
// StationStats/StationStatsInfo): the first of `names` present in `object`, or null.
const nlohmann::json* either(const nlohmann::json& object, std::initializer_list<std::string_view> names);

}  // namespace orderly::gateway::tcec
