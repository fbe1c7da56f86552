// Token revocation (RFC 7009), used by `latch logout`.
#pragma once

#include <latchkey/core/secret.hpp>
#include <latchkey/flows/grant_flow.hpp>  // client_auth
#include <latchkey/transport/ports.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>

namespace latchkey::transport {

struct revoke_params {
    std::string revocation_endpoint;  // from discovery: `revocation_endpoint`
    secret token;
    // RFC 7009 §2.1 hint: "refresh_token" (revoking it also ends the grant's access tokens
    // at most IdPs) or "access_token"; empty omits it.
    std::string token_type_hint = "refresh_token";
    std::string client_id;
    // Confidential clients; `how == none` sends client_id as a form field.
    flows::client_auth auth;
};

// POSTs the revocation request (§2.1) and reads the answer (§2.2):
//   HTTP 200                        ok — also when the token was unknown or already invalid
//   an OAuth error body             that oauth_errc (e.g. unsupported_token_type, §2.2.1;
//                                   invalid_client), description in diag.server_message
//   HTTP 503                        oauth_errc::temporarily_unavailable (§2.2.1: retry later)
//   any other status                client_errc::bad_http_status
//   empty revocation_endpoint       client_errc::endpoint_missing
//   transport failure               that error, with a message naming the endpoint
// The request is marked idempotent: revoking twice is harmless. `http` and `diag` must
// outlive the co_await. Cancellation: what `http` supports (terminal for http_client).
boost::asio::awaitable<error_code> async_revoke(http_port& http, revoke_params p,
                                                diagnostics& diag);

// Convenience form of the above with a public client.
boost::asio::awaitable<error_code> async_revoke(http_port& http,
                                                std::string revocation_endpoint,
                                                secret token, std::string token_type_hint,
                                                std::string client_id, diagnostics& diag);

}  // namespace latchkey::transport
