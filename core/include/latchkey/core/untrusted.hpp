// Checks on what an identity provider (or anyone who can answer in its place) controls,
// applied when the value is parsed, so nothing that fails them reaches a terminal, a file
// or an HTTP header. Printing still escapes (escape_untrusted, escape_terminal): these
// checks are the first line, not the only one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace latchkey {

// Longest URL we accept from an IdP (endpoints, verification URIs).
inline constexpr std::size_t max_idp_url_length = 2048;
// Longest device-flow user_code we show (RFC 8628 §6.1 codes are short; 8-9 characters).
inline constexpr std::size_t max_user_code_length = 64;

// True for "localhost", 127.0.0.0/8 and ::1 (with or without brackets).
bool is_loopback_host(std::string_view host);

// Why `url` cannot be used as an endpoint or shown as a place to sign in; empty when it
// can: an absolute https URL with a host, or http on a loopback host (RFC 8252 §8.3), in
// visible ASCII, at most max_idp_url_length characters. `javascript:`, `file:`, `data:`
// and every other scheme are refused.
std::string url_problem(std::string_view url);

// A device-flow user_code we may show: 1..max_user_code_length printable ASCII characters
// (spaces allowed inside, e.g. "WDJB MJHT"; no control bytes, no escape sequences).
bool valid_user_code(std::string_view code);

enum class token_kind {
    opaque,  // access/refresh tokens: visible ASCII (RFC 6750 §2.1 b64token is a subset)
    jws,     // ID tokens: compact serialization, base64url segments and dots (RFC 7515 §7.1)
};
// Why `token` cannot be stored or sent in a header; empty when it can. Never quotes the
// token (it is a secret).
std::string token_problem(std::string_view token, token_kind kind);

}  // namespace latchkey
