#pragma once
// WebSocket upgrades at paths the application serves (Application::open_channel), such as OCPP
// charge points at /ocpp/<id>: the application accepts or refuses the upgrade, then exchanges
// text frames with it. The live status socket is server.cpp's own.
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "orderly/web/application.hpp"
#include "session_registry.hpp"

namespace orderly::web {

// Takes over the connection, whose upgrade `request` was read from it: answers the refusal or
// completes the handshake. Plain, or TLS after its handshake.
void start_channel_session(boost::beast::tcp_stream&& stream,
                           boost::beast::http::request<boost::beast::http::string_body> request, Application& app,
                           SessionRegistry registry);
void start_channel_session(boost::beast::ssl_stream<boost::beast::tcp_stream>&& stream,
                           boost::beast::http::request<boost::beast::http::string_body> request, Application& app,
                           SessionRegistry registry);

}  // namespace orderly::web
