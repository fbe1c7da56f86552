// What a user pasted as "the URL the browser landed on" (a browser running on another
// machine, or `latch login --callback-url`). Pure: no state check, no verification; the
// caller decides what to do with each kind.
//
//   http://127.0.0.1:8765/callback?code=...&state=...&iss=...   -> code (RFC 6749 §4.1.2)
//   http://127.0.0.1:8765/callback?error=access_denied&state=... -> error (§4.1.2.1)
//   https://app.example.com/login#id_token=eyJ...&state=...      -> id_token (OIDC Core
//                                       §3.2.2.5, the implicit-style fragment; seed 001)
// Also accepted: surrounding whitespace, quotes or <angle brackets>, a bare
// "?query" / "#fragment", or "code=...&state=..." alone.
#pragma once

#include <string>
#include <string_view>

namespace latchkey::flows {

struct pasted_callback {
    enum class kind { empty, code, error, id_token, garbage };
    kind what = kind::empty;
    std::string url;       // the pasted text, trimmed (code/error: hand it to auth_code_flow)
    std::string state;     // empty when absent
    std::string id_token;  // kind::id_token
    std::string error;     // kind::error: the OAuth `error` value (untrusted)
    std::string reason;    // kind::garbage: why, ours, safe to print
};

pasted_callback parse_pasted_callback(std::string_view text);

}  // namespace latchkey::flows
