// Issuer/client configuration and the IdP's metadata (OIDC Discovery 1.0 §3, RFC 8414).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>

#include <string>
#include <vector>

namespace latchkey {

struct provider_metadata {
    std::string issuer;
    std::string authorization_endpoint;
    std::string token_endpoint;
    std::string device_authorization_endpoint;
    std::string userinfo_endpoint;
    std::string revocation_endpoint;
    std::string introspection_endpoint;
    std::string registration_endpoint;
    std::string jwks_uri;
    std::vector<std::string> grant_types_supported;
    std::vector<std::string> code_challenge_methods_supported;
    bool authorization_response_iss_parameter_supported = false;  // RFC 9207
    std::vector<std::string> dpop_signing_alg_values_supported;    // RFC 9449 §5.1
};

// The client side: who we are at the IdP and what we ask for.
struct client_config {
    std::string issuer;
    std::string client_id;
    std::vector<std::string> scopes;  // default: openid profile email offline_access
    // Explicit endpoints override discovery; empty means "discover".
    provider_metadata endpoints;

    std::string scope_string() const;  // space separated
};

std::vector<std::string> default_scopes();

// `{issuer}/.well-known/openid-configuration` (OIDC Discovery §4: path appended).
std::string discovery_url(std::string_view issuer);

// Parses a discovery document and checks its `issuer` equals `expected_issuer`
// (OIDC Discovery §4.3); a trailing slash difference is tolerated.
result<provider_metadata> parse_provider_metadata(const http_response& resp,
                                                  std::string_view expected_issuer,
                                                  diagnostics& diag);

// Fills every empty endpoint of `explicit_` from `discovered`.
provider_metadata merge_endpoints(const provider_metadata& explicit_,
                                  const provider_metadata& discovered);

}  // namespace latchkey
