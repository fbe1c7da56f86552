// Fakes for the transport ports (STYLE.md "Tests"): scripted HTTP, virtual time and a
// user port that only records, so a driver runs a whole flow on a real io_context without
// sockets, and a 15-minute device flow takes milliseconds.
//
// All three must be used from the io_context's thread (no locking) and must outlive the
// drive that uses them.
#pragma once

#include <latchkey/transport/ports.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace latchkey::test {

// One scripted answer: a transport error (ec set) or a response.
struct scripted_reply {
    error_code ec;
    http_response response;
};

scripted_reply json_reply(int status, std::string body);
scripted_reply body_reply(int status, std::string body, std::string content_type);
scripted_reply transport_error(error_code ec);

// The value of a recorded request's header `name` (as the code under test spelled it); ""
// if absent.
std::string header_of(const http_request& r, std::string_view name);

// An http_port answering from a script (first in, first out), then from `fallback` when the
// script is empty. With neither, a request gets client_errc::connection_failed and counts
// in `unscripted`. Every request that reached the "server" is recorded; a request made
// after cancellation was requested gets operation_aborted and is not recorded. Replies are
// always delivered through asio::post, never inline.
class fake_http final : public transport::http_port {
public:
    explicit fake_http(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

    boost::asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                                     diagnostics& diag) override;

    fake_http& push(scripted_reply r) {
        script.push_back(std::move(r));
        return *this;
    }
    fake_http& push_json(int status, std::string body) {
        return push(json_reply(status, std::move(body)));
    }

    std::deque<scripted_reply> script;
    std::function<scripted_reply(const http_request&)> fallback;
    // Called after a request is recorded, before its reply is delivered (e.g. to cancel).
    std::function<void(const http_request&)> on_request;

    std::vector<http_request> requests;
    std::size_t unscripted = 0;

private:
    boost::asio::any_io_executor ex_;
};

// A clock_port on virtual time. async_wait_until jumps `now` to the deadline (never
// backwards) and completes through asio::post; it returns operation_aborted instead if
// cancellation (any type the coroutine's filter lets through, terminal by default) was
// requested before or during the wait, like the real clock.
class fake_clock final : public transport::clock_port {
public:
    fake_clock(boost::asio::any_io_executor ex, time_point start)
        : ex_(std::move(ex)), now_(start) {}

    time_point now() const override { return now_; }
    boost::asio::awaitable<error_code> async_wait_until(time_point deadline) override;

    void advance(std::chrono::seconds d) { now_ += d; }

    std::vector<time_point> waits;  // every deadline asked for, in order
    // Called when a wait starts, with its deadline (e.g. to cancel mid-wait).
    std::function<void(time_point)> on_wait;

private:
    boost::asio::any_io_executor ex_;
    time_point now_;
};

// A clock_port on virtual time for drivers that wait and exchange at the same time (the
// multiplexed driver): a wait does not move time; `advance()` does, to the earliest
// pending deadline, completing that wait (and any other at the same instant). A test
// runs `run_sim(io, clock)`: ready handlers first, then the next deadline, so replies
// come back at the virtual instant their request left. Cancellation (any type the
// coroutine's filter lets through) ends a wait with operation_aborted.
class sim_clock final : public transport::clock_port {
public:
    sim_clock(boost::asio::any_io_executor ex, time_point start)
        : ex_(std::move(ex)), now_(start) {}

    time_point now() const override { return now_; }
    boost::asio::awaitable<error_code> async_wait_until(time_point deadline) override;

    bool advance();  // false when nothing waits
    std::size_t waiting() const { return waiters_.size(); }

    struct waiter;

private:
    boost::asio::any_io_executor ex_;
    time_point now_;
    std::multimap<time_point, waiter*> waiters_;
};

// Runs `io` on virtual time until nothing is ready and nothing waits on `clock` (bounded
// by `max_steps` advances). Returns false if the bound was hit.
bool run_sim(boost::asio::io_context& io, sim_clock& clock, int max_steps = 1'000'000);

// A user_port that records what it was asked to show.
class fake_user final : public transport::user_port {
public:
    void show(const flows::show_user& what) override;

    std::vector<flows::show_user> shown;
    std::function<void(const flows::show_user&)> on_show;
};

}  // namespace latchkey::test
