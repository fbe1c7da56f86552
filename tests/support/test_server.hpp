// Test helpers: a scripted HTTP/1.1 server on 127.0.0.1 (plain or TLS) that runs as
// coroutines on the test's io_context, and a runner for a test coroutine.
//
// The server parses requests by hand (request line, headers, Content-Length body) rather
// than with Beast, so the client under test is not checked against its own parser.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey::test {

struct recorded_request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::size_t connection = 0;  // which accepted connection carried it (1-based)

    std::string header(std::string_view name) const;  // case-insensitive; "" if absent
};

// What the server does with one request.
struct reply {
    enum class kind {
        answer,  // send the response below
        hang,    // read and discard until the client goes away; never answer
        drop,    // close the connection without answering
    };
    kind what = kind::answer;
    int status = 200;
    std::string content_type = "application/json";
    std::string body = "{}";
    bool close = false;        // send `Connection: close`, then close
    bool early_hints = false;  // send an interim `103 Early Hints` first

    // (A factory rather than designated initializers: GCC 12 miscompiles string literals
    // in braced initializers inside coroutines, "array used as initializer".)
    static reply answer(int status, std::string body,
                        std::string content_type = "application/json") {
        reply r;
        r.status = status;
        r.body = std::move(body);
        r.content_type = std::move(content_type);
        return r;
    }
    static reply hang_up() { return reply{kind::hang}; }
    static reply drop_it() { return reply{kind::drop}; }
};

class test_server {
public:
    // Plain HTTP on 127.0.0.1, an ephemeral port.
    explicit test_server(boost::asio::io_context& ioc);
    // HTTPS with this certificate chain and private key (PEM).
    test_server(boost::asio::io_context& ioc, const std::string& cert_pem,
                const std::string& key_pem);
    ~test_server();
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    unsigned short port() const;
    // scheme://<host>:<port><path>
    std::string url(std::string_view path, std::string_view host = "127.0.0.1") const;

    // Replies for the coming requests, in order; when none is left, `reply{}` (200, {}).
    void push(reply r);
    std::size_t accepts() const;
    const std::vector<recorded_request>& requests() const;
    // Connections open on the server side right now.
    std::size_t open_connections() const;
    // Connections waiting, idle, for their next request.
    std::size_t idle_connections() const;
    // Closes every connection that waits, idle, for its next request.
    void close_idle();

    struct state;  // implementation detail, shared with the server's coroutines

private:
    std::shared_ptr<state> st_;
};

// Runs `task` on `ioc` until it finishes, at most `limit`; rethrows what it threw (Catch2
// assertion failures included). Throws std::runtime_error if it did not finish in time.
void run_test(boost::asio::io_context& ioc, boost::asio::awaitable<void> task,
              std::chrono::seconds limit = std::chrono::seconds(20));

}  // namespace latchkey::test
