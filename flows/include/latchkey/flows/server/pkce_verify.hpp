// PKCE on the server side (RFC 7636 §4.4-4.6, RFC 9700 §2.1.1): what the authorization
// endpoint accepts, and what the token endpoint checks when a code is redeemed.
#pragma once

#include <latchkey/core/error.hpp>

#include <string_view>

namespace latchkey::flows::server {

// At the authorization endpoint. `method` empty means absent, which RFC 7636 §4.3 reads as
// "plain": refused, like an explicit "plain" (S256 only). A challenge must be 43-128
// characters of [A-Za-z0-9-._~] (§4.2). Public clients must send one (RFC 9700 §2.1.1).
// Errors: oauth_errc::invalid_request (diag.client_message says which rule).
error_code check_pkce_request(std::string_view challenge, std::string_view method,
                              bool public_client, diagnostics& diag);

// At the token endpoint, against what was stored with the code (empty challenge = the code
// was issued without PKCE). Downgrades are refused both ways: a code issued with a
// challenge needs a verifier, and a verifier for a code issued without one is an injection
// attempt (RFC 9700 §4.8.2). Errors: oauth_errc::invalid_grant.
error_code verify_pkce(std::string_view stored_challenge, std::string_view verifier,
                       diagnostics& diag);

}  // namespace latchkey::flows::server
