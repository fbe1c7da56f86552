// Dynamic Client Registration on the server (RFC 7591, RFC 7592), for machines: clients with
// no browser and no shared secret that authenticate with private_key_jwt (RFC 7523) using a
// key only they hold. Pure: what a registration request may ask for, and the answer's body.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/flows/server/records.hpp>

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace latchkey::flows::server {

// What a registration (or an RFC 7592 update) asks for, checked.
struct machine_registration {
    std::string client_name;                  // <= 200 characters; may be empty
    std::vector<std::string> grant_types;     // client_credentials only (the default)
    std::string jwks;                         // 1-4 public keys (EC P-256, RSA >= 2048, Ed25519), serialized
    std::string scope;                        // as asked; the caller narrows it
    bool dpop_bound = false;                  // dpop_bound_access_tokens (RFC 9449 §5.2)
};

// RFC 7591 §2 metadata of a machine. Refused (invalid_client_metadata, with the reason in
// diag.client_message): token_endpoint_auth_method other than private_key_jwt, no `jwks` or
// a `jwks_uri` (not served), a key with private members, redirect_uris or response_types
// (a machine takes no authorization response), any grant but client_credentials, more than
// 4 keys, or a body that is not a JSON object.
result<machine_registration> check_machine_registration(std::string_view body, diagnostics& diag);

// The RFC 7591 §3.2.1 / RFC 7592 §3 answer for `client`: client_id, client_id_issued_at,
// client_name, grant_types, response_types [], token_endpoint_auth_method, jwks, scope,
// registration_client_uri, dpop_bound_access_tokens when set and, when given, the
// registration_access_token.
boost::json::object registration_answer(const client_record& client, std::string_view client_uri,
                                        std::string_view registration_token);

}  // namespace latchkey::flows::server
