#include "orderly/gateway/tcec.hpp"

#include "orderly/base/bounded_json.hpp"

#include <array>
#include <cstdio>
#include <memory>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace orderly::gateway::tcec {
namespace {

// Envelopes and their Data come from outside the box: bounded before anything walks them
// (docs/security.md "Inputs and their bounds"). A day's station stats stay far below this.
constexpr std::size_t kMaxTcecBytes = 1024 * 1024;
nlohmann::json parse_outside(std::string_view text) {
  auto parsed = bounded_json::parse(text, {kMaxTcecBytes});
  return parsed.ok() ? std::move(parsed.value) : nlohmann::json(nlohmann::json::value_t::discarded);
}


using json = nlohmann::json;

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// AES-128-CBC with OpenSSL's PKCS#7 padding; empty on any failure (bad padding when decrypting).
std::optional<std::string> aes_128_cbc(std::string_view input, const Secrets& s, bool encrypt) {
  if (s.data_secret.size() != 16 || s.data_secret_iv.size() != 16) return std::nullopt;
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  const auto* key = reinterpret_cast<const unsigned char*>(s.data_secret.data());
  const auto* iv = reinterpret_cast<const unsigned char*>(s.data_secret_iv.data());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key, iv, encrypt ? 1 : 0) != 1)
    return std::nullopt;
  std::string out(input.size() + 16, '\0');
  int written = 0;
  int last = 0;
  auto* out_bytes = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_CipherUpdate(ctx.get(), out_bytes, &written, reinterpret_cast<const unsigned char*>(input.data()),
                       static_cast<int>(input.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out_bytes + written, &last) != 1)
    return std::nullopt;
  out.resize(static_cast<std::size_t>(written + last));
  return out;
}

bool all_digits(std::string_view text, std::size_t count) {
  if (text.size() != count) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// The envelope's string fields: missing or not a string is the other side's malformed envelope.
const std::string* string_field(const json& body, const char* name, std::string& error) {
  const auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    error = std::string(name) + (it == body.end() ? " is missing" : " is not a string");
    return nullptr;
  }
  return &it->get_ref<const std::string&>();
}

// Several of them in order; false (the error naming the first at fault) when one is not there.
bool string_fields(const json& body, std::initializer_list<std::pair<const char*, const std::string**>> fields,
                   std::string& error) {
  for (const auto& [name, out] : fields) {
    *out = string_field(body, name, error);
    if (!*out) return false;
  }
  return true;
}

// Data decrypted and parsed: a JSON object, or the 4004 reason.
std::optional<json> open_data(const std::string& data, const Secrets& secrets, std::string& error) {
  const auto plain = decrypt_data(data, secrets);
  if (!plain) {
    error = "Data cannot be decrypted with the DataSecret/DataSecretIV (not Base64 AES-128-CBC/PKCS#7)";
    return std::nullopt;
  }
  json parsed = parse_outside(*plain);
  if (parsed.is_discarded() || !parsed.is_object()) {
    error = "Data decrypts to something that is not a JSON object";
    return std::nullopt;
  }
  return parsed;
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string format_local(TimePoint t, std::chrono::minutes utc_offset, const char* format) {
  using namespace std::chrono;
  const auto local = floor<seconds>(t + utc_offset);
  const auto day = floor<days>(local);
  const year_month_day ymd(day);
  const hh_mm_ss hms(local - day);
  char text[32];
  std::snprintf(text, sizeof text, format, static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return text;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      // Only the last one or two characters may be padding.
      if (i + 2 < text.size()) return std::nullopt;
      ++padding;
    } else if (padding > 0 || kBase64Alphabet.find(c) == std::string_view::npos) {
      return std::nullopt;
    }
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::string hmac_md5_hex(std::string_view key, std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), digest.data(), &length);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

std::string encrypt_data(std::string_view plain, const Secrets& secrets) {
  if (plain.empty()) return {};
  const auto cipher = aes_128_cbc(plain, secrets, true);
  return cipher ? base64_encode(*cipher) : std::string();
}

std::optional<std::string> decrypt_data(std::string_view data, const Secrets& secrets) {
  const auto cipher = base64_decode(data);
  if (!cipher || cipher->empty() || cipher->size() % 16 != 0) return std::nullopt;
  return aes_128_cbc(*cipher, secrets, false);
}

std::string timestamp(TimePoint t, std::chrono::minutes utc_offset) {
  return format_local(t, utc_offset, "%04d%02u%02u%02d%02d%02d");
}

std::string business_time(TimePoint t, std::chrono::minutes utc_offset) {
  return format_local(t, utc_offset, "%04d-%02u-%02u %02d:%02d:%02d");
}

std::optional<TimePoint> parse_business_time(std::string_view text, std::chrono::minutes utc_offset) {
  using namespace std::chrono;
  int y = 0;
  unsigned mo = 0, d = 0;
  int h = 0, mi = 0, s = 0;
  char tail = 0;
  const std::string copy(text);
  if (text.size() != 19 ||
      std::sscanf(copy.c_str(), "%4d-%2u-%2u %2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &tail) != 6)
    return std::nullopt;
  const year_month_day ymd{year(y), month(mo), day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59 || h < 0 || mi < 0 || s < 0) return std::nullopt;
  return TimePoint(sys_days(ymd)) + hours(h) + minutes(mi) + seconds(s) - utc_offset;
}

std::string encode_request(const Request& request, const Secrets& secrets) {
  const std::string data = encrypt_data(request.data.is_null() ? "" : dump(request.data), secrets);
  const std::string sig =
      hmac_md5_hex(secrets.sig_secret, request.operator_id + data + request.timestamp + request.seq);
  return dump(json{{"OperatorID", request.operator_id},
                   {"Data", data},
                   {"TimeStamp", request.timestamp},
                   {"Seq", request.seq},
                   {"Sig", sig}});
}

std::string encode_response(const Response& response, const Secrets& secrets) {
  const int ret = static_cast<int>(response.ret);
  const std::string data = encrypt_data(response.data.is_null() ? "" : dump(response.data), secrets);
  const std::string sig = hmac_md5_hex(secrets.sig_secret, std::to_string(ret) + response.msg + data);
  return dump(json{{"Ret", ret}, {"Msg", response.msg}, {"Data", data}, {"Sig", sig}});
}

Decoded<Request> decode_request(std::string_view body, const Secrets& secrets) {
  Decoded<Request> out;
  const json parsed = parse_outside(body);
  if (parsed.is_discarded() || !parsed.is_object()) {
    out.ret = Ret::envelope;
    out.error = "the body is not a JSON object {OperatorID, Data, TimeStamp, Seq, Sig}";
    return out;
  }
  const std::string *operator_id = nullptr, *data = nullptr, *stamp = nullptr, *seq = nullptr, *sig = nullptr;
  if (!string_fields(parsed, {{"OperatorID", &operator_id}, {"Data", &data}, {"TimeStamp", &stamp}, {"Seq", &seq}, {"Sig", &sig}},
                     out.error)) {
    out.ret = Ret::envelope;
    return out;
  }
  if (!all_digits(*stamp, 14) || !all_digits(*seq, 4)) {
    out.ret = Ret::envelope;
    out.error = all_digits(*stamp, 14) ? "Seq must be 4 digits" : "TimeStamp must be 14 digits yyyyMMddHHmmss";
    return out;
  }
  if (hmac_md5_hex(secrets.sig_secret, *operator_id + *data + *stamp + *seq) != *sig) {
    out.ret = Ret::signature;
    out.error = "Sig does not match HMAC-MD5(SigSecret, OperatorID+Data+TimeStamp+Seq)";
    return out;
  }
  auto opened = open_data(*data, secrets, out.error);
  if (!opened) {
    out.ret = Ret::data;
    return out;
  }
  out.value = Request{*operator_id, std::move(*opened), *stamp, *seq};
  return out;
}

Decoded<Response> decode_response(std::string_view body, const Secrets& secrets) {
  Decoded<Response> out;
  const json parsed = parse_outside(body);
  const auto ret = parsed.is_object() ? parsed.find("Ret") : parsed.end();
  if (parsed.is_discarded() || !parsed.is_object() || ret == parsed.end() || !ret->is_number_integer()) {
    out.ret = Ret::envelope;
    out.error = "the answer is not a JSON object with an integer Ret";
    return out;
  }
  const std::string *msg = nullptr, *data = nullptr, *sig = nullptr;
  if (!string_fields(parsed, {{"Msg", &msg}, {"Data", &data}, {"Sig", &sig}}, out.error)) {
    out.ret = Ret::envelope;
    return out;
  }
  const int code = ret->get<int>();
  if (hmac_md5_hex(secrets.sig_secret, std::to_string(code) + *msg + *data) != *sig) {
    out.ret = Ret::signature;
    out.error = "Sig does not match HMAC-MD5(SigSecret, Ret+Msg+Data)";
    return out;
  }
  out.value.ret = static_cast<Ret>(code);
  out.value.msg = *msg;
  if (data->empty()) return out;
  auto opened = open_data(*data, secrets, out.error);
  if (!opened) {
    out.ret = Ret::data;
    return out;
  }
  out.value.data = std::move(*opened);
  return out;
}

const json* either(const json& object, std::initializer_list<std::string_view> names) {
  if (!object.is_object()) return nullptr;
  for (const auto name : names) {
    const auto it = object.find(std::string(name));
    if (it != object.end()) return &*it;
  }
  return nullptr;
}

}  // namespace orderly::gateway::tcec
