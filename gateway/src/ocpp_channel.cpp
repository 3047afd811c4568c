// The OCPP charge points' WebSocket: web/ accepts the upgrade and carries the frames, the
// drivers' central system speaks OCPP; this joins the two (web and drivers never include each
// other).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "device_registry.hpp"
#include "orderly/gateway/gateway.hpp"

namespace orderly::gateway {
namespace {

constexpr std::string_view kOcppPrefix = "/ocpp/";

class OcppChannel final : public web::Channel {
 public:
  explicit OcppChannel(std::shared_ptr<drivers::ocpp::CentralSystem::Link> link) : link_(std::move(link)) {}
  void on_text(std::string_view text) override { link_->receive(text); }
  void on_closed() override { link_->closed(); }

 private:
  std::shared_ptr<drivers::ocpp::CentralSystem::Link> link_;
};

}  // namespace

web::ChannelAnswer Gateway::open_channel(const web::ChannelRequest& request, web::ChannelOutlet outlet) {
  auto* central = devices_ ? devices_->ocpp() : nullptr;
  if (!central || request.path.rfind(kOcppPrefix, 0) != 0)
    return {404, "no WebSocket at this path", "", nullptr};
  const std::string charge_point = request.path.substr(kOcppPrefix.size());
  // OCPP-J 1.6, 3.1.2: the pile names the protocol it speaks; a pile asking for another
  // version (ocpp2.0.1) is refused rather than misunderstood.
  const bool speaks_16 = std::find(request.subprotocols.begin(), request.subprotocols.end(),
                                   drivers::ocpp::kSubprotocol) != request.subprotocols.end();
  if (!speaks_16) {
    spdlog::warn("ocpp: upgrade refused, no subprotocol ocpp1.6 charge_point={}", charge_point);
    return {400, "this central system speaks the WebSocket subprotocol ocpp1.6 only", "", nullptr};
  }
  if (!central->authorize(charge_point, request.authorization)) {
    spdlog::warn("ocpp: upgrade refused, unknown charge point or wrong password charge_point={}", charge_point);
    return {401, "unknown charge point or wrong password: set ocpp_id and ocpp_password of its [[charger]]", "",
            nullptr};
  }
  auto link = central->open(charge_point, std::move(outlet.send), std::move(outlet.close));
  if (!link) return {404, "no such charge point", "", nullptr};
  return {101, "", drivers::ocpp::kSubprotocol, std::make_shared<OcppChannel>(std::move(link))};
}

}  // namespace orderly::gateway
