// In-test HTTP clients for the loopback listener tests: raw bytes over TCP, so the tests
// can send what a browser would, and what a hostile local process would.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/token_set.hpp>
#include <latchkey/transport/loopback_listener.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace latchkey::test {

struct raw_response {
    error_code ec;      // connect/write failure; a read that ends in EOF is not one
    int status = 0;     // parsed from the status line; 0 if none arrived
    std::string text;   // everything the server sent
    bool contains(std::string_view s) const { return text.find(s) != std::string::npos; }
};

// Connects to host:port, sends `bytes`, reads until the server closes (at most 5 s).
boost::asio::awaitable<raw_response> async_raw_exchange(unsigned short port, std::string bytes,
                                                        std::string host = "127.0.0.1");

// "GET <target> HTTP/1.1" with a Host header, as a browser sends it.
std::string get_request(std::string_view target);

// Connects and returns the open socket (sending nothing yet): the slow client.
boost::asio::awaitable<boost::asio::ip::tcp::socket> async_connect_only(unsigned short port,
                                                                        error_code& ec);

// A wait on the listener, run as its own coroutine so the test can act meanwhile.
struct wait_outcome {
    bool finished = false;
    error_code ec;
    std::string target;
};
boost::asio::awaitable<void> wait_into(transport::loopback_listener* l, std::string state,
                                       time_point deadline, wait_outcome* out);

}  // namespace latchkey::test
