#include "support/transport_helpers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace latchkey::test {
namespace asio = boost::asio;

asio::awaitable<outcome> async_fetch(transport::http_client& client, http_request req) {
    outcome out;
    auto start = std::chrono::steady_clock::now();
    out.response = co_await client.async_send(std::move(req), out.ec, out.diag);
    out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    co_return out;
}

asio::awaitable<bool> async_poll_until(std::function<bool()> pred,
                                       std::chrono::milliseconds bound) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto until = std::chrono::steady_clock::now() + bound;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= until) co_return false;
        timer.expires_after(std::chrono::milliseconds(1));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return true;
}

}  // namespace latchkey::test
