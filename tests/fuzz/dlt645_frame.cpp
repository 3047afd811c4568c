// DL/T 645-2007 frames as they come off an RS-485 line: noise, preambles, truncated and forged
// frames. A frame the decoder accepts must encode back to bytes that decode to the same frame,
// and its reply and BCD value must decode without reading past the data.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "orderly/drivers/dlt645.hpp"

using namespace orderly::drivers::dlt645;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto d = decode(std::span<const std::uint8_t>(data, size));
  if (d.consumed > size) std::abort();
  if (d.status != DecodeStatus::ok) return 0;
  const auto again = decode(encode(d.frame));
  if (again.status != DecodeStatus::ok || again.frame.address != d.frame.address ||
      again.frame.control != d.frame.control || again.frame.data != d.frame.data) {
    std::abort();
  }
  if (const auto reply = parse_read_reply(d.frame); reply && reply->ok && !reply->value.empty()) {
    for (const int decimals : {0, 2, 4}) (void)decode_bcd(reply->value, decimals, size % 2 == 0);
  }
  return 0;
}
