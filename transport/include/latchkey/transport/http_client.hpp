// The real HTTP(S) client: Beast over TCP/TLS with keep-alive reuse per origin.
#pragma once

#include <latchkey/transport/ports.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace latchkey::transport {

struct http_options {
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds request_timeout{30'000};  // total, per request
    std::size_t max_body_size = 1 << 20;                 // 1 MiB
    std::size_t max_header_size = 64 << 10;              // response status line + headers
    std::size_t max_idle_per_origin = 64;                // keep-alive pool bound
    std::string ca_file;      // --ca-file; else SSL_CERT_FILE; else the system store
    bool allow_insecure_loopback = true;  // http:// only to 127.0.0.0/8, ::1, localhost
    std::string user_agent = "latchkey/0.1";

    // Proxies, as curl reads them: https:// requests go through https_proxy, http://
    // through http_proxy (HTTP CONNECT for https, absolute-form for http; basic auth
    // from the proxy URL's user:password, never shown). Loopback hosts and hosts matching
    // no_proxy go direct. Only http:// proxy URLs ("host:port" means http://host:port).
    // Note that plain http is only allowed to loopback, which is never proxied.
    // proxy_from_environment: https_proxy/HTTPS_PROXY, http_proxy/HTTP_PROXY (each falling
    // back to all_proxy/ALL_PROXY), no_proxy/NO_PROXY, lower case first; the fields
    // below, when not empty, override them.
    bool proxy_from_environment = true;
    std::string https_proxy;
    std::string http_proxy;
    std::string no_proxy;

    // --debug: called with one line at a time ("> " sent, "< " received, "* " notes):
    // request and status lines, headers, bodies and timing, every secret redacted
    // (Authorization, cookies, token/code/verifier/password/assertion/secret fields).
    std::function<void(std::string_view line)> trace;
};

class http_client final : public http_port {
public:
    http_client(boost::asio::any_io_executor ex, http_options opts = {});
    ~http_client() override;
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // Errors (with a message naming the URL, query cut off, in diag.client_message):
    // bad_url, insecure_url, bad_input (header with CR/LF), connection_failed, timeout
    // (request_timeout covers resolve+connect+TLS+write+read), response_too_large,
    // tls_verify_failed, and asio::error::operation_aborted when cancelled (whatever the
    // calling coroutine's filter lets through; terminal by default). A pooled connection
    // found dead is replaced before sending; one that dies after the request went out is
    // retried only when req.idempotent. Through a proxy (http_options): bad_url for an
    // unusable proxy URL, connection_failed when the proxy refuses the CONNECT (a 407 says
    // to put credentials in the proxy URL). The client must outlive the co_await, and be
    // destroyed before its io_context (it holds pooled sockets and, once it has sent, one
    // deadline timer).
    boost::asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                                     diagnostics& diag) override;

    // Connections currently idle in the pool (tests check reuse and closing).
    std::size_t idle_connections() const noexcept;
    // Connections opened since construction.
    std::size_t connections_opened() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// A clock_port on the real system clock; waits use a steady_timer for the remaining
// duration, so wall-clock jumps do not stretch a poll interval.
class real_clock final : public clock_port {
public:
    explicit real_clock(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
    time_point now() const override;
    boost::asio::awaitable<error_code> async_wait_until(time_point deadline) override;

private:
    boost::asio::any_io_executor ex_;
};

}  // namespace latchkey::transport
