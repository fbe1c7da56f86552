// Gateway sessions (seed 001) for embedders and the CLI: a context may name a gateway login
// URL (core/gateway.hpp). Its ID token is POSTed there for a session token, which is kept
// with its expiry in the context's credentials file. When the session has expired, a new
// one is obtained with the stored ID token, refreshed first (through token_source, under
// its lock and single-flight) when that has expired too.
#pragma once

#include <latchkey/core/gateway.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace latchkey::transport {

class token_source;

// A session or ID token this close to its expiry counts as expired (clock skew, and the time
// the caller needs to use it).
inline constexpr std::chrono::seconds gateway_margin{30};

// The session `c` holds from `g`, when it is still valid at `now` (+ the margin).
std::optional<secret> fresh_gateway_session(const stored_credentials& c, const gateway_config& g,
                                            time_point now);

// What is sent to the gateway: the ID token; for an imported token (all there is), the
// imported token itself. Empty when there is neither.
std::optional<secret> gateway_subject(const stored_credentials& c);

// POSTs `subject` to the gateway. Errors: client_errc::session_expired for its 401 (the login
// behind the session is no longer accepted), transport errors ("cannot reach the gateway at
// URL: ..."), and parse_gateway_response's. `http`, `clock`, `diag` outlive the co_await.
boost::asio::awaitable<result<gateway_session>> async_exchange_gateway(
    http_port& http, clock_port& clock, const gateway_config& g, secret subject,
    diagnostics& diag);

// Stores `s` into `ctx`'s credentials under the context lock, into the file as it is now (a
// refresh by another process meanwhile must not be undone). not_logged_in when the
// credentials were removed meanwhile; lock and store errors.
boost::asio::awaitable<error_code> async_save_gateway_session(clock_port& clock,
                                                              credential_store store,
                                                              std::string ctx,
                                                              gateway_session s,
                                                              diagnostics& diag);

// A subject that is still valid at `now`: the stored one, else (with `may_refresh`) a forced
// refresh of `source` (the context of `c`) for a new ID token. session_expired, with a
// message saying how to log in again (`relogin`, e.g. "latch login --context x"), when
// neither works; the refresh's errors otherwise.
boost::asio::awaitable<result<secret>> async_fresh_gateway_subject(
    token_source& source, const stored_credentials& c, time_point now, bool may_refresh,
    const std::string& relogin, diagnostics& diag);

}  // namespace latchkey::transport
