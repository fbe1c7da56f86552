// Private helpers of the HTTP client (transport/src only): URL checks, message wording and
// the OpenSSL set-up, kept apart from the coroutines in http_client.cpp so that this part
// compiles without Beast.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/transport/http_client.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
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
    bool via_proxy = false;   // this is a proxy: plain http to any address is expected
};

// parse_target without the plain-http rule (for proxies, always reached over plain http).
result<target> parse_any_target(std::string_view url, diagnostics& diag);

// Parses `url` (Boost.URL) and applies the plain-http rule: http:// is only allowed to
// loopback hosts (127.0.0.0/8, ::1, localhost) and only when `allow_insecure_loopback`.
// Errors: client_errc::bad_url, client_errc::insecure_url, each with a message in `diag`.
result<target> parse_target(std::string_view url, bool allow_insecure_loopback,
                            diagnostics& diag);

// The proxy settings: https_proxy/HTTPS_PROXY, http_proxy/HTTP_PROXY (each falling back to
// all_proxy/ALL_PROXY) and no_proxy/NO_PROXY; lower case wins, as with curl.
struct proxy_config {
    std::string https_proxy;
    std::string http_proxy;
    std::string no_proxy;
};
proxy_config proxy_config_from_env();

// A request that goes through a proxy: where the proxy is and its credentials.
struct proxy_route {
    target proxy;               // plain http; display has no userinfo
    std::string authorization;  // "Basic ..." from the proxy URL's userinfo, or empty
};

// NO_PROXY as curl reads it: comma- or space-separated; "*" matches everything; a name
// matches itself and its subdomains (a leading dot is optional); "host:port" only that
// port; addresses exactly, or by CIDR ("10.0.0.0/8"). `host` as in target::host.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::string_view port);

// The proxy for `t`, or none: loopback hosts and NO_PROXY matches go direct. Errors:
// client_errc::bad_url for an unusable proxy URL (the message never shows its password).
result<std::optional<proxy_route>> choose_proxy(const target& t, const proxy_config& c,
                                                diagnostics& diag);

// The --debug trace (http_options::trace; nothing when unset): `wire` is a request or
// response head (+ body) as sent; each line goes out prefixed by `direction` ('>' sent,
// '<' received, '*' notes), with `note` (timing) after the first line. Secrets redacted:
// see http_trace.cpp.
void trace_lines(const http_options& o, char direction, std::string_view wire,
                 std::string_view note);
void trace_response(const http_options& o, const http_response& r, std::string_view note);

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
