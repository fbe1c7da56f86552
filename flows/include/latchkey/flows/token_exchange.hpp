// OAuth 2.0 Token Exchange (RFC 8693): a token for another audience, made from one the
// client already holds. A one-request grant at the token endpoint:
//
//   started -> send_request(token POST) -> reply -> done | failed
//
// The request (§2.1) names the subject token and its type, asks for an access token
// (requested_token_type) for `audience` and `scopes`, and authenticates the client like any
// token request. The answer (§2.2.1) must be an access token: an issued_token_type other
// than an access token or a JWT, or a token_type of "N_A" (not usable as an access token),
// fails with client_errc::bad_json. The issued token is done{}'s access_token. Never
// retried (a replayed grant can make the IdP revoke the session).
#pragma once

#include <latchkey/flows/grant_flow.hpp>

#include <string>
#include <vector>

namespace latchkey::flows {

inline constexpr const char* token_exchange_grant = "urn:ietf:params:oauth:grant-type:token-exchange";
inline constexpr const char* access_token_type = "urn:ietf:params:oauth:token-type:access_token";
inline constexpr const char* jwt_token_type = "urn:ietf:params:oauth:token-type:jwt";

struct token_exchange_params {
    std::string token_endpoint;
    secret subject_token;
    std::string subject_token_type = access_token_type;
    std::string audience;             // empty: none sent (the IdP's default audience)
    std::vector<std::string> scopes;  // sent space-separated; none: no scope parameter
    client_auth auth;
};

// The grant request's parameters (RFC 8693 §2.1), for grant_flow or any other driver.
grant_params token_exchange_request(token_exchange_params p);

// Checks a successful token response against RFC 8693 §2.2.1 (see above). Empty when the
// issued token can be used as an access token; bad_json with diag.client_message else.
error_code check_exchange_response(const http_response& resp, diagnostics& diag);

class token_exchange_flow final : public flow {
public:
    explicit token_exchange_flow(token_exchange_params p)
        : grant_(token_exchange_request(std::move(p))) {}
    action next(const event& ev) override;

private:
    grant_flow grant_;
};

}  // namespace latchkey::flows
