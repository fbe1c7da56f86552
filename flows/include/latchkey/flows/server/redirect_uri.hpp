// Redirect URI rules of the authorization server (RFC 9700 §2.1, RFC 6749 §3.1.2).
#pragma once

#include <string_view>

namespace latchkey::flows::server {

// Is `requested` (from an authorization request) one of the client's registered URIs?
// Exact string comparison (no normalisation, no prefixes: RFC 9700 §4.1.3), with one
// exception, RFC 8252 §7.3: when the registered URI is http on a loopback IP literal
// (127.0.0.1 or [::1]) the port may differ, because native apps get a free port at run
// time. Host literal, path and query must still match; "localhost" gets no exception
// (RFC 8252 §8.3).
bool redirect_uri_matches(std::string_view registered, std::string_view requested);

// http://127.0.0.1[:port]/... or http://[::1][:port]/... (nothing else counts).
bool is_loopback_redirect(std::string_view uri);

// May a client register this URI? An absolute URI without a fragment (RFC 6749 §3.1.2)
// that is https, http on a loopback IP literal, or a private-use scheme with a dot in it
// (RFC 8252 §7.1, "com.example.app:/cb"). Plain http elsewhere is refused.
bool registrable_redirect_uri(std::string_view uri);

}  // namespace latchkey::flows::server
