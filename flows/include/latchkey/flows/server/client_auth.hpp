// Client authentication at the token endpoint (RFC 6749 §2.3): what the request presents,
// and whether it authenticates a stored client.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/secret.hpp>
#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/records.hpp>

#include <string>
#include <string_view>

namespace latchkey::flows::server {

enum class client_auth_method { none, client_secret_basic, client_secret_post };

struct presented_client {
    client_auth_method method = client_auth_method::none;
    std::string client_id;
    secret client_secret;  // empty for none
};

// From the Authorization header value ("" when absent) and the form body:
//  * "Basic base64(id:secret)": both halves form-url-decoded (RFC 6749 §2.3.1);
//  * client_id + client_secret in the body (client_secret_post);
//  * client_id alone (none: a public client).
// Errors, with diag.client_message:
//  * invalid_client: a malformed Basic header (the caller answers 401 with
//    WWW-Authenticate: Basic, §5.2);
//  * invalid_request: more than one method at once (§2.3: "MUST NOT use more than one"),
//    a body client_id that differs from the Basic one, or no client_id at all.
result<presented_client> parse_client_auth(std::string_view authorization, const form& params,
                                           diagnostics& diag);

// Does `presented` authenticate `client`? Public clients must present no secret;
// confidential clients a secret (basic or post) whose hash matches the stored one,
// compared in constant time. Errors: invalid_client (one message for every reason, so the
// answer does not tell which part was wrong).
error_code authenticate_client(const presented_client& presented, const client_record& client,
                               diagnostics& diag);

}  // namespace latchkey::flows::server
