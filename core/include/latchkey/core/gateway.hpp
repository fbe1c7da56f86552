// A gateway session exchange (seed 001): after a login, the ID token is POSTed as JSON to a
// gateway's login URL, which answers with its own session token and that token's expiry.
// Nothing here does I/O: the CLI sends the request this builds and parses the reply here.
//
//   POST <url>   {"id_token": "<ID token>"}                       (request field: id_token)
//   200 OK       {"session_token": "…", "expires_at": "2026-…Z"}  (token / expiry fields)
//
// Field names are configurable per context; a dotted name ("data.session_token") walks
// nested objects. The expiry may be an RFC 3339 time, a Unix time (a number of at least
// 1e9), or a lifetime in seconds (a smaller number); when the expiry field is absent,
// `expires_in` (seconds) is used, and when that is absent too the expiry is unknown.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/core/store.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

struct gateway_config {
    std::string url;                              // empty: the context has no gateway
    std::string request_field = "id_token";       // where the ID token goes in the POST
    std::string token_field = "session_token";    // where the session token is in the reply
    std::string expiry_field = "expires_at";      // where its expiry is
};

// The keys a context stores these under in config.json (context_config::extra).
inline constexpr const char* gateway_url_key = "gateway_url";
inline constexpr const char* gateway_request_field_key = "gateway_request_field";
inline constexpr const char* gateway_token_field_key = "gateway_token_field";
inline constexpr const char* gateway_expiry_field_key = "gateway_expiry_field";

// The gateway settings of a context (defaults for the fields it does not set).
gateway_config gateway_config_of(const context_config& c);

// The POST: Content-Type application/json, never retried (a login may not be replayable).
http_request make_gateway_request(const gateway_config& g, const secret& id_token);

// The reply. 2xx with the token field -> the session (url = g.url, obtained_at = now).
//   client_errc::session_expired  HTTP 401: the gateway refused the ID token
//   client_errc::bad_http_status  any other non-2xx (the body, if any, in server_message)
//   client_errc::bad_json / missing_field / bad_input (unreadable expiry), with a message
// Never throws.
result<gateway_session> parse_gateway_response(const gateway_config& g, const http_response& r,
                                               time_point now, diagnostics& diag);

// RFC 3339 date-time: 2026-11-23T05:10:23Z, with optional fractional seconds and a
// numeric offset (+01:00). nullopt when it is not one.
std::optional<time_point> parse_rfc3339(std::string_view s);

}  // namespace latchkey
