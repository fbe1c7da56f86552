// clock_port on the real clocks: wall-clock `now()` (expiries are absolute instants), but
// waits run on a steady_timer for the remaining duration, so a wall-clock jump does not
// stretch or shrink a poll interval that is already running.
#include <latchkey/transport/http_client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;

time_point real_clock::now() const {
    return std::chrono::time_point_cast<time_point::duration>(sys_clock::now());
}

// Cancellation: whatever the coroutine's cancellation filter lets through (terminal by
// default; partial/total if the caller enabled them) aborts the timer wait.
asio::awaitable<error_code> real_clock::async_wait_until(time_point deadline) {
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) co_return asio::error::operation_aborted;
    asio::steady_timer timer(ex_);
    timer.expires_after(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - now()));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return ec;
    // Fired and cancelled at the same moment: report the cancellation (STYLE.md).
    if (cs.cancelled() != asio::cancellation_type::none) co_return asio::error::operation_aborted;
    co_return error_code{};
}

}  // namespace latchkey::transport
