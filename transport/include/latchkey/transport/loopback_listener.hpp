// The loopback redirect listener of a browser login (RFC 8252 §7.3): a tiny HTTP server
// on 127.0.0.1 that waits for the one authorization response carrying our `state`.
//
// Typical use (the CLI's browser/hybrid login):
//
//   diagnostics diag;
//   auto l = transport::loopback_listener::open(ex, opts.port /*0: ephemeral*/, "/callback", diag);
//   if (!l) { print(diag.client_message); return l.error(); }   // e.g. port_in_use
//   auto secrets = flows::make_auth_code_secrets();
//   params.redirect_uri = l->redirect_uri();          // http://127.0.0.1:PORT/callback
//   l->set_expected_state(secrets.state);              // before the browser is opened
//   flows::auth_code_flow flow{params, secrets};
//   auto r = co_await transport::async_drive(flow, {http, clock, user, &*l}, diag);
//
// What it guarantees (issue 5):
//   * binds 127.0.0.1 only, never 0.0.0.0 or ::; an explicit busy port fails with
//     client_errc::port_in_use and a message naming the port;
//   * each connection is served by its own coroutine with a per-connection deadline,
//     a header size limit and no request body, so a client that connects and never sends,
//     or sends half a request, cannot block the real callback;
//   * GET only (others: 405); other paths: 404; a request on the callback path whose
//     `state` is missing or wrong gets a 400 page "This sign-in link is not valid for this
//     login" and the listener KEEPS WAITING: a forged request neither ends nor hijacks the
//     login;
//   * the request with our `state` gets a small page ("Signed in — you can close this tab",
//     or an error page when it carries `error=`) and completes the wait with the request
//     target (e.g. "/callback?code=...&state=...&iss=..."); the flow parses it and decides.
//     After that the acceptor is closed.
//
// Threading: not thread-safe. Use it from one thread / strand (the executor given to
// open()), like every other latchkey I/O object.
#pragma once

#include <latchkey/flows/authorization_response.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace latchkey::transport {

struct listener_options {
    std::chrono::milliseconds connection_timeout{10'000};  // whole request+response
    std::size_t header_limit = 8 * 1024;                    // request line + headers
    // Concurrent connections; when full, the oldest is closed to make room for the newest
    // (which may be the browser while a local process hoards idle connections).
    std::size_t max_connections = 32;
};

class loopback_listener final : public callback_port {
public:
    // Binds 127.0.0.1:`port` (0 = an ephemeral port chosen by the kernel) and listens.
    // Nothing is accepted until the expected state is known (set_expected_state() or the
    // first async_wait()); until then connections wait in the kernel's backlog.
    // Errors: client_errc::port_in_use when an explicit port is busy (diag names it:
    // "port 8765 on 127.0.0.1 is already in use; choose another with --port or omit it");
    // client_errc::bad_input for a path not starting with '/'; other bind/listen failures
    // as their system error_code with a message in diag.
    static result<loopback_listener> open(boost::asio::any_io_executor ex, std::uint16_t port,
                                          std::string path, diagnostics& diag,
                                          listener_options opts = {});
    static result<loopback_listener> open(boost::asio::any_io_executor ex,
                                          std::uint16_t port = 0,
                                          std::string path = "/callback");

    loopback_listener(loopback_listener&&) noexcept;
    loopback_listener& operator=(loopback_listener&&) noexcept;
    ~loopback_listener() override;  // close()s

    std::uint16_t port() const noexcept;    // the bound port (non-zero)
    const std::string& path() const noexcept;
    std::string redirect_uri() const;        // "http://127.0.0.1:<port><path>"

    // Who decides whether a request on the callback path is this login's (200 and the
    // wait completes) or not (400, keeps waiting): the flow, e.g.
    //   listener.set_acceptor([&flow](const auto& r) { return flow.accepts(r); });
    // Starts accepting. `accepts` must stay valid while the listener is open.
    using acceptor_fn = std::function<bool(const flows::authorization_response&)>;
    void set_acceptor(acceptor_fn accepts);
    // The same with a fixed `state` (compared in constant time). Starts accepting.
    void set_expected_state(std::string state);

    // Waits for the callback carrying `expected_state` until `deadline` and returns its
    // request target (origin-form: path + "?" + query). Errors in `ec`:
    //   client_errc::timeout     the deadline passed; the listener stays open and a later
    //                            call continues (a callback arriving in between is kept);
    //   operation_aborted        cancelled (terminal cancellation, the default filter of an
    //                            awaitable) or close()d; cancellation also closes the acceptor
    //                            and every open connection;
    //   client_errc::flow_finished  the callback was already returned by an earlier call;
    //   client_errc::bad_input   another wait is already in progress.
    // `*this` must outlive the co_await.
    boost::asio::awaitable<std::string> async_wait(std::string expected_state,
                                                   time_point deadline, error_code& ec);

    // callback_port for async_drive: async_wait() with the state given to
    // set_expected_state() (bad_input if none was set).
    boost::asio::awaitable<std::string> async_wait_callback(time_point deadline,
                                                            error_code& ec) override;

    // Closes the acceptor and every open connection; pending waits end with
    // operation_aborted. Idempotent.
    void close();
    bool is_open() const noexcept;

    // Requests answered so far, by kind (tests and diagnostics).
    struct counters {
        std::size_t accepted = 0;
        std::size_t rejected_state = 0;   // 400: missing/wrong state
        std::size_t rejected_other = 0;   // 404/405/431/400 parse errors, limits
        std::size_t timed_out = 0;        // per-connection deadline hit
    };
    counters stats() const noexcept;

    struct state;  // implementation, shared with the connection coroutines

private:
    explicit loopback_listener(std::shared_ptr<state> st);
    std::shared_ptr<state> st_;
};

// The message open() puts in diagnostics for a busy explicit port.
std::string port_in_use_message(std::uint16_t port);

}  // namespace latchkey::transport
