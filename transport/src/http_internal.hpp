// Private helpers of the HTTP client (transport/src only): URL checks, message wording and
// the OpenSSL set-up, kept apart from the coroutines in http_client.cpp so that this part
// compiles without Beast.
#pragma once

#include <latchkey/core/error.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

struct ssl_st;
struct ssl_ctx_st;

namespace latchkey::transport::detail {

// What the client needs to know about a request URL.
struct target {
    bool tls = false;
    bool host_is_ip = false;
    std::string host;         // for resolve/SNI/verification: no brackets, decoded
    std::string port;         // numeric
    std::string host_header;  // Host: value, as in the URL (brackets, explicit port)
    std::string path;         // origin-form request target: /path?query
    std::string display;      // scheme://host[:port]/path: no userinfo, query or fragment
    std::string origin;       // keep-alive pool key: scheme://host:port, host lower-cased
};

// Parses `url` (Boost.URL) and applies the plain-http rule: http:// is only allowed to
// loopback hosts (127.0.0.0/8, ::1, localhost) and only when `allow_insecure_loopback`.
// Errors: client_errc::bad_url, client_errc::insecure_url, each with a message in `diag`.
result<target> parse_target(std::string_view url, bool allow_insecure_loopback,
                            diagnostics& diag);

// True for the names/addresses plain http may go to.
bool is_loopback_host(std::string_view host);

// A URL as it may appear in a message: the query (it may hold codes or secrets) and the
// fragment are cut off, control and non-ASCII bytes escaped.
std::string url_for_message(std::string_view url);

// "30 s", "300 ms", "1.5 s".
std::string describe_duration(std::chrono::milliseconds d);
// "1 MiB", "64 KiB", "1500 bytes".
std::string describe_size(std::size_t n);

// Loads the trust store into `ctx`: `ca_file` if set, else $SSL_CERT_FILE if set, else
// OpenSSL's default paths; verification on, TLS 1.2 at least. On failure returns
// client_errc::connection_failed and the reason in `message`.
error_code configure_tls_context(ssl_ctx_st* ctx, const std::string& ca_file,
                                 std::string& trust_store, std::string& message);

// Per connection: SNI (names only, RFC 6066 §3) and host name or IP address verification.
void configure_tls_peer(ssl_st* ssl, const target& t);

// Describes a failed TLS handshake: a rejected certificate gives tls_verify_failed with
// OpenSSL's reason ("self-signed certificate", "hostname mismatch"), anything else
// connection_failed.
error_code describe_tls_failure(ssl_st* ssl, const error_code& ec, const target& t,
                                const std::string& trust_store, diagnostics& diag);

}  // namespace latchkey::transport::detail
