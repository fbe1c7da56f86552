// The one parser of authorization responses (RFC 6749 §4.1.2): what the loopback listener
// received, what a user pasted as "the URL the browser landed on" (a browser running on
// another machine, or `latch login --callback-url`), and what auth_code_flow reads. Pure:
// no state check, no verification; auth_code_flow::accepts decides whose it is.
//
//   http://127.0.0.1:8765/callback?code=...&state=...&iss=...   -> code (RFC 6749 §4.1.2)
//   http://127.0.0.1:8765/callback?error=access_denied&state=... -> error (§4.1.2.1)
//   https://app.example.com/login#id_token=eyJ...&state=...      -> id_token (OIDC Core
//                                       §3.2.2.5, the implicit-style fragment; seed 001)
// Also accepted: a request target ("/callback?..."), surrounding whitespace, quotes or
// <angle brackets>, a bare "?query" / "#fragment", or "code=...&state=..." alone. The
// fragment counts when it carries code, error or id_token (else the query: "#/route").
// Values are form-decoded ('+' is a space).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace latchkey::flows {

struct authorization_response {
    enum class kind { empty, code, error, id_token, garbage };
    kind what = kind::empty;
    bool parsed = false;   // a URL (or query) whose parameters were read, whatever the kind
    std::string url;       // the text, trimmed (code/error: hand it to auth_code_flow)
    // The parameters, as sent (untrusted); absent when not sent.
    std::optional<std::string> code, state, iss, error, error_description, id_token;
    std::string repeated;  // the first of these given twice (RFC 6749 §3.1): garbage
    std::string reason;    // kind::garbage: why, ours, safe to print
};

authorization_response parse_authorization_response(std::string_view text);

}  // namespace latchkey::flows
