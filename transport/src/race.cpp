// The race combinator (see race.hpp): one parallel group with a cancellation condition.
#include <latchkey/transport/race.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {

struct race_state {
    std::size_t completed = 0;
    std::size_t last = 0;  // the side that completed last (read by the condition)
    bool (*ends_all)(const error_code&) = nullptr;
    const lone_failure_fn* on_lone_failure = nullptr;
};

// Runs one side with cancellation reported, not thrown, and total cancellation enabled
// (the thread co_spawn creates for it starts with the terminal-only default). `st` lives
// in async_race's frame, which outlives both sides.
asio::awaitable<error_code> async_side(asio::awaitable<error_code> side, std::size_t index,
                                       race_state* st) {
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    error_code ec = co_await std::move(side);
    st->last = index;
    co_return ec;
}

// Called by the group with each completion: cancel the other side, or let it run. Holds
// a plain pointer: GCC 12 may destroy a temporary of a co_await expression twice, so
// nothing with a non-trivial destructor is built inside one (STYLE.md).
struct stop_rule {
    race_state* st;
    asio::cancellation_type_t operator()(const std::exception_ptr& e, const error_code& ec) const {
        const bool first = ++st->completed == 1;
        if (e || !ec || st->ends_all(ec)) return asio::cancellation_type::terminal;
        if (first && st->on_lone_failure && *st->on_lone_failure) (*st->on_lone_failure)(st->last, ec);
        return asio::cancellation_type::none;
    }
};

}  // namespace

bool any_error(const error_code&) { return true; }

asio::awaitable<race_result> async_race(asio::awaitable<error_code> a,
                                        asio::awaitable<error_code> b,
                                        bool (*ends_all)(const error_code&),
                                        const lone_failure_fn* on_lone_failure) {
    race_state state;
    state.ends_all = ends_all;
    state.on_lone_failure = on_lone_failure;
    auto ex = co_await asio::this_coro::executor;
    auto side_a = async_side(std::move(a), 0, &state);
    auto side_b = async_side(std::move(b), 1, &state);
    auto group = asio::experimental::make_parallel_group(
        asio::co_spawn(ex, std::move(side_a), asio::deferred),
        asio::co_spawn(ex, std::move(side_b), asio::deferred));
    const stop_rule rule{&state};
    auto [order, e0, r0, e1, r1] = co_await group.async_wait(rule, asio::use_awaitable);
    if (e0) std::rethrow_exception(e0);
    if (e1) std::rethrow_exception(e1);
    race_result r;
    r.first = order[0];
    r.ec = {r0, r1};
    const std::size_t second = order[1];
    // The winner, else the one that ended all (it completed first), else the last failure.
    if (!r.ec[r.first] || ends_all(r.ec[r.first])) r.decided = r.first;
    else r.decided = second;
    co_return r;
}

}  // namespace latchkey::transport
