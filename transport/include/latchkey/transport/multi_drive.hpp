// The multiplexed driver: many device-style flows on one coroutine and one timer queue.
//
// `async_drive` (drive.hpp) runs one flow per coroutine; a waiting flow then costs its
// coroutine frames (~4 KB, bench/README.md). Here each flow is only its sans-I/O machine in
// a table (flows::flow_scheduler): one timer coroutine sleeps until the earliest deadline
// of all flows, and a bounded set of HTTP workers (at most `max_in_flight` exchanges, so
// at most that many connections) sends the requests the machines ask for, first come,
// first served. For a single login `async_drive` stays the driver.
//
//   multi_driver d(ex, http, clock, handlers, {.max_in_flight = 64});
//   for (...) d.add(std::make_unique<flows::device_flow>(shared_params));
//   co_await d.async_run();   // returns when the last flow ended (or after stop())
//
// Flows that need a callback listener (browser flows) are refused: they end with
// client_errc::bad_input.
#pragma once

#include <latchkey/flows/flow_scheduler.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace latchkey::transport {

class multi_driver {
public:
    struct options {
        std::size_t max_in_flight = 64;  // concurrent HTTP exchanges
        // false: async_run returns once no flow is left; true: it waits for more add()s
        // until stop() or cancellation.
        bool run_until_stopped = false;
        // Deadlines are served on a grid of this step: a flow due at t is woken at the
        // first multiple of timer_slack at or after t (never before t: RFC 8628 §3.5's
        // interval is a minimum), so one wake-up serves every poll due within the step
        // instead of one wake-up per poll. 0 wakes at each deadline exactly.
        std::chrono::microseconds timer_slack{1000};
    };
    // Called on the executor's thread; they must not block and may call add() and cancel().
    struct handlers {
        // Every flow ends exactly once: tokens, its failure, or client_errc::cancelled.
        std::function<void(flows::flow_id, result<token_set>, const diagnostics&)> on_done;
        std::function<void(flows::flow_id, const flows::show_user&)> on_show;
        // Optional: a flow woken by its timer sends its request at `sent` (lateness).
        std::function<void(flows::flow_id, time_point deadline, time_point sent)> on_poll;
    };

    // `http` and `clock` must outlive the driver; all use is on `ex`'s (single) thread.
    multi_driver(boost::asio::any_io_executor ex, http_port& http, clock_port& clock,
                 handlers h, options o);
    multi_driver(boost::asio::any_io_executor ex, http_port& http, clock_port& clock,
                 handlers h);
    ~multi_driver();  // async_run must have returned
    multi_driver(const multi_driver&) = delete;
    multi_driver& operator=(const multi_driver&) = delete;

    // Starts `f` (its first request goes out when a worker is free). Before or during
    // async_run; after stop() the flow ends at once with client_errc::cancelled.
    flows::flow_id add(std::unique_ptr<flows::flow> f);
    // Ends a live flow with client_errc::cancelled (on_done is called before this returns)
    // and aborts its exchange if one is in flight (that connection is closed, not reused).
    // false if the flow had already ended.
    bool cancel(flows::flow_id id);
    // Ends every flow with client_errc::cancelled; async_run returns once the exchanges in
    // flight have been aborted.
    void stop();

    // Runs the flows. Terminal cancellation (the default filter) acts like stop(). Returns
    // only when no worker and no timer wait of the driver is left. One async_run at a time.
    boost::asio::awaitable<void> async_run();

    std::size_t live_count() const noexcept;

    struct state;  // in multi_drive.cpp

private:
    std::unique_ptr<state> s_;
};

}  // namespace latchkey::transport
