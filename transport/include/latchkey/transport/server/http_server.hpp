// latch-idp's HTTP/1.1 server (Beast, one io_context). Each connection is one coroutine:
// read a request (size and time bounded), await the handler, write the response, repeat
// while keep-alive. Handlers see plain values (no Beast types).
//
// Drain (SIGTERM): drain() stops accepting, closes idle keep-alive connections at once, lets
// requests in progress finish and closes their connections after the response; whatever
// is still open after `grace` is closed. The io_context then runs out of work.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace latchkey::transport::server {

struct server_request {
    http_method method = http_method::get;
    std::string method_name;  // as sent, for 405 answers and logs
    std::string target;       // origin-form: /path?query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string peer_ip;

    std::string_view path() const;   // target without the query
    std::string_view query() const;  // after '?', or empty
    // Case-insensitive; empty when absent.
    std::string header(std::string_view name) const;
};

using request_handler = std::function<boost::asio::awaitable<http_response>(server_request)>;

struct server_options {
    std::size_t max_body = 64 * 1024;                       // larger bodies: 413
    std::chrono::seconds read_timeout{30};                  // per request, headers + body
    std::chrono::seconds idle_timeout{60};                  // keep-alive wait for the next one
    std::size_t max_connections = 1024;                     // beyond: accepted and closed
};

class http_server {
public:
    http_server(boost::asio::any_io_executor ex, request_handler handler, server_options options = {});
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    // Binds and listens on host:port (port 0: a free one). Returns the bound port.
    // Errors: the system error, with diag.client_message "cannot listen on host:port: ...".
    result<std::uint16_t> listen(const std::string& host, std::uint16_t port, diagnostics& diag);
    // Serves https with this certificate chain and private key (PEM files; TLS 1.2+).
    // Errors: the OpenSSL error, with diag.client_message naming the file.
    error_code enable_tls(const std::string& cert_file, const std::string& key_file, diagnostics& diag);
    // Starts accepting (after listen()).
    void start();
    // See the header comment. Safe to call more than once.
    void drain(std::chrono::milliseconds grace);

    std::size_t open_connections() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace latchkey::transport::server
