// One race combinator for the logins (issue 12): hybrid (device vs browser), the pasted URL
// vs the loopback listener, a flow vs its countdown.
//
// Each side is an awaitable<error_code>: empty = it succeeded (it leaves its value in the
// caller's storage), else why it failed. The first success wins and the other side gets
// terminal cancellation; a failure that `ends_all` accepts ends the other side too; any
// other failure lets the other side run on (`on_lone_failure` is told, e.g. to say "still
// waiting for the other one"). No side is ever parked to keep a race open, and no
// exception is used to detect cancellation: each side runs with throw_if_cancelled(false)
// and total cancellation enabled, so a total or terminal cancellation of the race reaches
// both sides as operation_aborted from their next operation.
#pragma once

#include <latchkey/core/error.hpp>

#include <boost/asio/awaitable.hpp>

#include <array>
#include <cstddef>
#include <functional>

namespace latchkey::transport {

struct race_result {
    std::size_t first = 0;                // the side that completed first
    std::size_t decided = 0;              // the side whose outcome decides: the winner, else the
                                          // side that ended all, else the last to fail
    std::array<error_code, 2> ec{};       // each side's outcome (the loser: usually cancelled)
    bool succeeded() const noexcept { return !ec[decided]; }
};

// Runs `a` (side 0) and `b` (side 1) at once on the caller's executor and returns when the
// race is decided and both sides have completed. An exception thrown by a side ends the
// race and is rethrown. Cancellation: terminal, partial and total, forwarded to both sides, each time
// (a total, then a terminal one).
// `on_lone_failure` (may be null) must outlive the co_await; pass a named object (GCC 12
// may destroy a temporary of a co_await expression twice).
using lone_failure_fn = std::function<void(std::size_t side, const error_code&)>;
boost::asio::awaitable<race_result> async_race(boost::asio::awaitable<error_code> a,
                                               boost::asio::awaitable<error_code> b,
                                               bool (*ends_all)(const error_code&),
                                               const lone_failure_fn* on_lone_failure = nullptr);

// A side's failure that never lets the other side run on: the first completion decides.
bool any_error(const error_code&);

}  // namespace latchkey::transport
