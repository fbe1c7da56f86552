// One-request grants at the token endpoint: password (RFC 6749 §4.3), client credentials
// (§4.4), token exchange (RFC 8693) and any other grant that is a single POST.
//
//   started -> send_request(token POST) -> reply -> done | failed
//
// The POST is never retried: a replayed grant can make the IdP revoke the session.
#pragma once

#include <latchkey/flows/flow.hpp>

#include <string>
#include <utility>
#include <vector>

namespace latchkey::flows {

// How the client proves who it is at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2).
struct client_auth {
    enum class method { none, secret_basic, secret_post, private_key_jwt };
    method how = method::none;
    std::string client_id;
    secret client_secret;      // secret_basic / secret_post
    secret client_assertion;   // private_key_jwt: a signed JWT made by the caller

    // Adds the fields and headers this method needs to a token request.
    void apply(std::vector<std::pair<std::string, std::string>>& fields,
               std::vector<std::pair<std::string, std::string>>& headers) const;
};

struct grant_params {
    std::string token_endpoint;
    std::string grant_type;
    std::vector<std::pair<std::string, std::string>> fields;  // grant-specific, e.g. username
    client_auth auth;
    // Extra request headers, e.g. a DPoP proof (RFC 9449 §5).
    std::vector<std::pair<std::string, std::string>> headers;
    // For token exchange: the issued token is returned as the access token.
};

class grant_flow final : public flow {
public:
    explicit grant_flow(grant_params p) : p_(std::move(p)) {}
    action next(const event& ev) override;

private:
    enum class state { initial, requesting, finished };
    grant_params p_;
    state state_ = state::initial;
};

}  // namespace latchkey::flows
