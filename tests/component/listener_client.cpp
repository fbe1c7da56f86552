#include "listener_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace latchkey::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
}

std::string get_request(std::string_view target) {
    std::string r = "GET ";
    r += target;
    r += " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: latch-test\r\nAccept: text/html\r\n\r\n";
    return r;
}

asio::awaitable<raw_response> async_raw_exchange(unsigned short port, std::string bytes,
                                                 std::string host) {
    raw_response out;
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_after(std::chrono::seconds(5));
    tcp::endpoint ep(asio::ip::make_address(host), port);
    auto [cec] = co_await stream.async_connect(ep, use_nothrow);
    if (cec) {
        out.ec = cec;
        co_return out;
    }
    auto [wec, written] = co_await asio::async_write(stream, asio::buffer(bytes), use_nothrow);
    // A server that rejects a request early may reset before all of it was written; what
    // it answered is still worth reading.
    char buf[4096];
    for (;;) {
        auto [rec, n] = co_await stream.async_read_some(asio::buffer(buf), use_nothrow);
        out.text.append(buf, n);
        if (rec) break;
    }
    if (out.text.starts_with("HTTP/1.1 ") && out.text.size() >= 12)
        out.status = std::stoi(out.text.substr(9, 3));
    else if (wec)
        out.ec = wec;
    co_return out;
}

asio::awaitable<tcp::socket> async_connect_only(unsigned short port, error_code& ec) {
    tcp::socket s(co_await asio::this_coro::executor);
    auto [cec] = co_await s.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port),
                                          use_nothrow);
    ec = cec;
    co_return s;
}

asio::awaitable<void> wait_into(transport::loopback_listener* l, std::string state,
                                time_point deadline, wait_outcome* out) {
    out->target = co_await l->async_wait(std::move(state), deadline, out->ec);
    out->finished = true;
}

}  // namespace latchkey::test
