// Runs blocking work (SQLite calls, argon2id) on a small fixed pool of threads and hands
// the result back on the awaiting coroutine's executor (the io_context), so the
// io_context never waits for it. The queue is bounded: past `max_queued` jobs waiting or
// running, a call fails at once with server_errc::busy (the HTTP layer answers 503 with
// Retry-After) instead of growing an unbounded backlog.
#pragma once

#include <latchkey/flows/server/server_error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <type_traits>

namespace latchkey::transport::server::detail {

// An error as R: R is error_code or a result<T> (in_place_error: result<bool> would
// otherwise read an error_code as a bool).
template <class R>
R failure(boost::system::error_code ec) {
    if constexpr (std::is_same_v<R, boost::system::error_code>) return ec;
    else return R(boost::system::in_place_error, ec);
}

class offload_pool {
public:
    offload_pool(std::size_t threads, std::size_t max_queued) : pool_(threads), max_(max_queued) {}
    ~offload_pool() { pool_.join(); }

    // R is error_code or result<T>.
    template <class R, class F>
    boost::asio::awaitable<R> run(F f) {
        if (in_flight_.fetch_add(1) >= max_) {
            in_flight_.fetch_sub(1);
            co_return failure<R>(make_error_code(flows::server::server_errc::busy));
        }
        struct release {
            std::atomic<std::size_t>& n;
            ~release() { n.fetch_sub(1); }
        } guard{in_flight_};
        // Named, not a temporary inside the co_await expression: GCC 12 destroys such
        // temporaries twice (GCC PR 99576).
        auto job = [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); };
        auto op = boost::asio::co_spawn(pool_, std::move(job), boost::asio::use_awaitable);
        co_return co_await std::move(op);
    }

    std::size_t in_flight() const { return in_flight_.load(); }

private:
    boost::asio::thread_pool pool_;
    std::size_t max_;
    std::atomic<std::size_t> in_flight_{0};
};

}  // namespace latchkey::transport::server::detail
