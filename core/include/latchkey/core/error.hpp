// Error codes and diagnostics shared by every module.
//
// Two categories (STYLE.md "Errors"):
//   * oauth_errc  ("latchkey.oauth")  — the `error` values an authorization server returns
//     (RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009, RFC 8693). Unknown values map to
//     unknown_oauth_error; the raw string is kept in diagnostics::server_error.
//   * client_errc ("latchkey.client") — failures detected by latchkey itself.
//
// diagnostics keeps our own message apart from the server's error_description, which is
// untrusted input and must go through escape_untrusted() before it is printed.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <type_traits>

namespace latchkey {

using error_code = boost::system::error_code;
template <class T>
using result = boost::system::result<T, error_code>;

enum class oauth_errc {
    // RFC 6749 §4.1.2.1 / §5.2
    invalid_request = 1,
    invalid_client,
    invalid_grant,
    unauthorized_client,
    unsupported_grant_type,
    invalid_scope,
    access_denied,
    unsupported_response_type,
    server_error,
    temporarily_unavailable,
    // RFC 8628 §3.5
    authorization_pending,
    slow_down,
    expired_token,
    // RFC 7009 §2.2.1
    unsupported_token_type,
    // RFC 8707 / RFC 8693
    invalid_target,
    // RFC 6750 §3.1
    invalid_token,
    insufficient_scope,
    // OIDC Core §3.1.2.6
    login_required,
    consent_required,
    interaction_required,
    // RFC 7591 §3.2.2
    invalid_redirect_uri,
    invalid_client_metadata,
    // RFC 9449 §12.2 (DPoP)
    invalid_dpop_proof,
    use_dpop_nonce,
    // anything else a server sends
    unknown_oauth_error,
};

enum class client_errc {
    timeout = 1,          // a deadline we set expired
    cancelled,            // the user or the embedder cancelled
    bad_json,             // a body that is not the JSON we expect
    missing_field,        // valid JSON lacking a required member
    bad_http_status,      // an HTTP status with no OAuth error body
    response_too_large,   // a body over the size limit
    connection_failed,    // resolve/connect/TLS handshake failed
    tls_verify_failed,    // certificate or host name rejected
    insecure_url,         // http:// to a non-loopback host
    bad_url,              // a URL we cannot parse or use
    flow_finished,        // next() called after done/failed
    state_mismatch,       // callback `state` differs from ours
    issuer_mismatch,      // RFC 9207 `iss` differs from the issuer
    nonce_mismatch,       // ID token `nonce` differs from ours
    id_token_invalid,     // signature / iss / aud / exp checks failed
    not_logged_in,        // no credentials stored for the context
    session_expired,      // credentials exist but can no longer be used (exit 77)
    store_corrupt,        // a credentials/config file we cannot parse
    store_io,             // a credentials/config file we cannot read or write
    lock_timeout,         // another process held the lock past the bound
    endpoint_missing,     // the IdP does not advertise an endpoint we need
    config_missing,       // issuer/client id not given anywhere
    bad_input,            // user input we cannot use
    key_error,            // a private key missing, unreadable, wrong mode or corrupt
    browser_failed,       // the browser could not be launched
    port_in_use,          // an explicit loopback port is busy
};

const boost::system::error_category& oauth_category() noexcept;
const boost::system::error_category& client_category() noexcept;

inline error_code make_error_code(oauth_errc e) noexcept {
    return {static_cast<int>(e), oauth_category()};
}
inline error_code make_error_code(client_errc e) noexcept {
    return {static_cast<int>(e), client_category()};
}

// Maps an RFC `error` string to its code; unknown strings give unknown_oauth_error.
oauth_errc oauth_errc_from_string(std::string_view s) noexcept;

// Our message and the server's kept apart (STYLE.md, after boost::mysql::diagnostics).
struct diagnostics {
    std::string client_message;  // written by us; safe to print
    std::string server_error;    // raw `error` value when it was not one we know
    std::string server_message;  // the server's error_description: untrusted

    void clear() {
        client_message.clear();
        server_error.clear();
        server_message.clear();
    }
    // One printable line: client message, then the escaped server message in quotes.
    std::string to_string() const;
};

// One line for a failure: the diagnostics, else the code's message; an OAuth error with
// only the server's text gets the code's message in front ("invalid_grant: ...").
std::string describe(const error_code& ec, const diagnostics& diag);

// Escapes control characters, quotes and non-ASCII bytes and caps the length, so that
// text from a server cannot move the cursor, fake a prompt or flood the terminal.
std::string escape_untrusted(std::string_view s, std::size_t max_len = 300);

// For a whole line about to be written to a terminal (our message with embedded values):
// keeps printable ASCII and well-formed UTF-8 text, writes every control byte (ESC, BEL,
// CR, LF, NUL, DEL, C1, bidi overrides) and every malformed byte as \xNN. Unlike
// escape_untrusted it neither quotes nor truncates.
std::string escape_terminal(std::string_view s);

// True when `ec` means "the user has to log in again" (CLI exit code 77).
bool needs_login(const error_code& ec) noexcept;

}  // namespace latchkey

namespace boost::system {
template <>
struct is_error_code_enum<latchkey::oauth_errc> : std::true_type {};
template <>
struct is_error_code_enum<latchkey::client_errc> : std::true_type {};
}  // namespace boost::system
