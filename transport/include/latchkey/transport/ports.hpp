// Ports: what drivers need from the outside world (STYLE.md layout, kubelogin's
// "use cases talk to ports"). Real adapters live in transport/src; tests supply fakes.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/core/token_set.hpp>
#include <latchkey/flows/flow.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

namespace latchkey::transport {

class http_port {
public:
    virtual ~http_port() = default;
    // Sends one request. Transport failures come back in `ec` (with a message naming the
    // URL in `diag`), never as exceptions. HTTP error statuses are not failures here: the
    // caller reads the OAuth error body. Supports terminal and partial cancellation; a
    // cancelled exchange's connection is closed, never reused.
    virtual boost::asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                                             diagnostics& diag) = 0;
};

class clock_port {
public:
    virtual ~clock_port() = default;
    virtual time_point now() const = 0;
    // Returns an empty code at the deadline, operation_aborted when cancelled.
    virtual boost::asio::awaitable<error_code> async_wait_until(time_point deadline) = 0;
};

class user_port {
public:
    virtual ~user_port() = default;
    virtual void show(const flows::show_user& what) = 0;  // must not block
};

// Delivers the authorization response of a browser flow (loopback listener, a pasted URL,
// or both raced). Returns the URL, or an error (timeout/cancelled).
class callback_port {
public:
    virtual ~callback_port() = default;
    virtual boost::asio::awaitable<std::string> async_wait_callback(time_point deadline,
                                                                    error_code& ec) = 0;
};

struct ports {
    http_port& http;
    clock_port& clock;
    user_port& user;
    callback_port* callback = nullptr;  // only browser flows need one
};

}  // namespace latchkey::transport
