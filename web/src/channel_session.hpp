#pragma once
// WebSocket upgrades at paths the application serves (Application::open_channel), such as OCPP
// charge points at /ocpp/<id>: the application accepts or refuses the upgrade, then exchanges
// text frames with it. The live status socket is server.cpp's own.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "orderly/web/application.hpp"
#include "session_registry.hpp"

namespace orderly::web {

// Takes over `socket`, whose upgrade `request` was read from it: answers the refusal or
// completes the handshake.
void start_channel_session(boost::asio::ip::tcp::socket&& socket,
                           boost::beast::http::request<boost::beast::http::string_body> request, Application& app,
                           SessionRegistry registry);

}  // namespace orderly::web
