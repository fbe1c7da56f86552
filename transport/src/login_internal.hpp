// What the login use case's files share (login.cpp, login_interactive.cpp,
// login_paste.cpp, login_grants.cpp). Not installed.
#pragma once

#include <latchkey/transport/login.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace latchkey::transport::detail {

// What a way in obtained, before the ID token is verified.
struct flow_outcome {
    token_set tokens;
    login_method method = login_method::unknown;
    std::optional<std::string> nonce{};  // the nonce the ID token must carry, if one was sent
    std::uint16_t loopback_port = 0;     // browser login: the callback reached this port
};

// device, browser, hybrid (login_interactive.cpp).
boost::asio::awaitable<result<flow_outcome>> async_interactive_login(
    client_services& client, const client_config& c, const provider_metadata& m,
    const login_options& o, login_ports p, diagnostics& diag);

// --callback-url: the ID token of a pasted URL (login_paste.cpp).
result<flow_outcome> callback_url_login(const login_options& o, diagnostics& diag);

// password, client credentials (login_grants.cpp).
boost::asio::awaitable<result<flow_outcome>> async_grant_login(
    client_services& client, const client_config& c, const provider_metadata& m,
    const login_options& o, login_ports p, diagnostics& diag);

// private_key_jwt, bounded by o.timeout; discovers itself, inside the bound.
boost::asio::awaitable<result<flow_outcome>> async_machine_login(
    client_services& client, const client_config& c, const login_options& o, diagnostics& diag);

// The hard bound of a whole login is its timeout plus this: the flows' own deadlines,
// which start after discovery, fire first with their clearer messages.
inline constexpr std::chrono::seconds hard_deadline_grace{2};

// What is left of `limit` after `spent`, rounded up, at least 1 s.
std::chrono::seconds remaining_seconds(std::chrono::seconds limit, time_point::duration spent);

// Completes with client_errc::timeout after `limit`, or client_errc::cancelled when
// cancelled first. `soft`: on the clock port, ended by total or terminal cancellation;
// `hard`: wall-clock time (a steady timer), ended by terminal cancellation only.
enum class deadline_kind { soft, hard };
boost::asio::awaitable<error_code> async_deadline(clock_port* clock, std::chrono::seconds limit,
                                                  deadline_kind kind);

}  // namespace latchkey::transport::detail
