// The race combinator (see race.hpp): two co_spawned sides, each on a cancellation signal
// of ours. Not a parallel_group: in Boost 1.81 a group forwards only the FIRST cancellation
// of its caller (a Ctrl-C's total), never the terminal one after it (a second Ctrl-C, or
// the 5 s grace), so a side that ignores total could never be stopped (issue 18 #2).
#include <latchkey/transport/race.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {

struct race_state {
    std::size_t completed = 0;
    std::array<std::size_t, 2> order{};
    std::array<error_code, 2> ec{};
    std::array<std::exception_ptr, 2> failure{};
    std::array<asio::cancellation_signal, 2> cancel;  // each side's
    asio::steady_timer* both_done = nullptr;          // cancelled when both have completed
    bool (*ends_all)(const error_code&) = nullptr;
    const lone_failure_fn* on_lone_failure = nullptr;
};

// Runs one side with cancellation reported, not thrown, and total cancellation enabled
// (the thread co_spawn creates for it starts with the terminal-only default).
asio::awaitable<error_code> async_side(asio::awaitable<error_code> side) {
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_return co_await std::move(side);
}

// One side completed: the first success, exception or fatal failure cancels the other
// (terminal); a first lone failure is reported and lets the other run on. `st` lives in
// async_race's frame, which outlives both sides. A plain pointer, no capturing lambda:
// GCC 12 may destroy a temporary of a co_await/co_spawn expression twice (STYLE.md).
struct side_done {
    race_state* st;
    std::size_t index;
    void operator()(std::exception_ptr e, error_code ec) const {
        st->order[st->completed] = index;
        st->ec[index] = ec;
        st->failure[index] = e;
        if (++st->completed == 1) {
            if (e || !ec || st->ends_all(ec))
                st->cancel[1 - index].emit(asio::cancellation_type::terminal);
            else if (st->on_lone_failure && *st->on_lone_failure)
                (*st->on_lone_failure)(index, ec);
        }
        if (st->completed == 2) st->both_done->cancel();
    }
};

// Installed on the race's own cancellation slot: every cancellation, each time.
struct forward_to_sides {
    explicit forward_to_sides(race_state* s) : st(s) {}
    void operator()(asio::cancellation_type_t type) const {
        for (auto& c : st->cancel) c.emit(type);
    }
    race_state* st;
};

}  // namespace

bool any_error(const error_code&) { return true; }

asio::awaitable<race_result> async_race(asio::awaitable<error_code> a,
                                        asio::awaitable<error_code> b,
                                        bool (*ends_all)(const error_code&),
                                        const lone_failure_fn* on_lone_failure) {
    // Nothing may throw out of here while a side runs: it points into this frame.
    const bool throws = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto ex = co_await asio::this_coro::executor;
    auto cs = co_await asio::this_coro::cancellation_state;
    asio::steady_timer both_done(ex, asio::steady_timer::time_point::max());
    race_state st;
    st.both_done = &both_done;
    st.ends_all = ends_all;
    st.on_lone_failure = on_lone_failure;
    auto side_a = async_side(std::move(a));
    auto side_b = async_side(std::move(b));
    const side_done done_a{&st, 0};
    const side_done done_b{&st, 1};
    asio::co_spawn(ex, std::move(side_a), asio::bind_cancellation_slot(st.cancel[0].slot(), done_a));
    asio::co_spawn(ex, std::move(side_b), asio::bind_cancellation_slot(st.cancel[1].slot(), done_b));
    auto outer = cs.slot();
    if (outer.is_connected()) outer.emplace<forward_to_sides>(&st);
    if (cs.cancelled() != asio::cancellation_type::none) forward_to_sides{&st}(cs.cancelled());
    // Waits with no slot of its own, so the forwarder above stays installed.
    const asio::cancellation_slot none;
    while (st.completed < 2)
        co_await both_done.async_wait(
            asio::bind_cancellation_slot(none, asio::as_tuple(asio::use_awaitable)));
    if (outer.is_connected()) outer.clear();
    co_await asio::this_coro::throw_if_cancelled(throws);
    if (st.failure[0]) std::rethrow_exception(st.failure[0]);
    if (st.failure[1]) std::rethrow_exception(st.failure[1]);
    race_result r;
    r.first = st.order[0];
    r.ec = st.ec;
    // The winner, else the one that ended all (it completed first), else the last failure.
    if (!r.ec[r.first] || ends_all(r.ec[r.first])) r.decided = r.first;
    else r.decided = st.order[1];
    co_return r;
}

}  // namespace latchkey::transport
