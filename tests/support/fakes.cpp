#include "support/fakes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace latchkey::test {
namespace asio = boost::asio;

namespace {
bool cancel_requested(const asio::cancellation_state& cs) {
    return cs.cancelled() != asio::cancellation_type::none;
}
}  // namespace

scripted_reply json_reply(int status, std::string body) {
    return body_reply(status, std::move(body), "application/json");
}

scripted_reply body_reply(int status, std::string body, std::string content_type) {
    scripted_reply r;
    r.response.status = status;
    r.response.content_type = content_type;
    r.response.headers.emplace_back("Content-Type", std::move(content_type));
    r.response.body = std::move(body);
    return r;
}

scripted_reply transport_error(error_code ec) {
    scripted_reply r;
    r.ec = ec;
    return r;
}

std::string header_of(const http_request& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}

asio::awaitable<http_response> fake_http::async_send(http_request req, error_code& ec,
                                                     diagnostics& diag) {
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cancel_requested(cs)) {
        ec = asio::error::operation_aborted;
        co_return http_response{};
    }
    requests.push_back(req);
    scripted_reply r;
    if (!script.empty()) {
        r = std::move(script.front());
        script.pop_front();
    } else if (fallback) {
        r = fallback(requests.back());
    } else {
        ++unscripted;
        r = transport_error(client_errc::connection_failed);
    }
    if (on_request) on_request(requests.back());
    co_await asio::post(ex_, asio::use_awaitable);
    // Like a real exchange: a cancellation that arrives while the reply is in flight wins.
    if (cancel_requested(cs)) {
        ec = asio::error::operation_aborted;
        co_return http_response{};
    }
    ec = r.ec;
    if (ec) diag.client_message = "fake connection to " + req.url + " failed: " + ec.message();
    co_return std::move(r.response);
}

asio::awaitable<error_code> fake_clock::async_wait_until(time_point deadline) {
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cancel_requested(cs)) co_return asio::error::operation_aborted;
    waits.push_back(deadline);
    if (on_wait) on_wait(deadline);
    if (deadline > now_) now_ = deadline;
    co_await asio::post(ex_, asio::use_awaitable);
    if (cancel_requested(cs)) co_return asio::error::operation_aborted;
    co_return error_code{};
}

struct sim_clock::waiter {
    asio::steady_timer timer;
    bool fired = false;
};

asio::awaitable<error_code> sim_clock::async_wait_until(time_point deadline) {
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cancel_requested(cs)) co_return asio::error::operation_aborted;
    if (deadline <= now_) {
        co_await asio::post(ex_, asio::use_awaitable);
        co_return cancel_requested(cs) ? error_code{asio::error::operation_aborted} : error_code{};
    }
    waiter w{asio::steady_timer(ex_, asio::steady_timer::time_point::max())};
    auto it = waiters_.emplace(deadline, &w);
    (void)co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!w.fired) {
        waiters_.erase(it);  // cancelled: advance() did not take it
        co_return asio::error::operation_aborted;
    }
    if (cancel_requested(cs)) co_return asio::error::operation_aborted;
    co_return error_code{};
}

bool sim_clock::advance() {
    if (waiters_.empty()) return false;
    const time_point t = waiters_.begin()->first;
    if (t > now_) now_ = t;
    while (!waiters_.empty() && waiters_.begin()->first <= now_) {
        waiter* w = waiters_.begin()->second;
        waiters_.erase(waiters_.begin());
        w->fired = true;
        w->timer.cancel();
    }
    return true;
}

bool run_sim(asio::io_context& io, sim_clock& clock, int max_steps) {
    for (int i = 0; i < max_steps; ++i) {
        io.restart();
        io.poll();
        if (!clock.advance()) {
            io.restart();
            io.poll();
            return true;
        }
    }
    return false;
}

void fake_user::show(const flows::show_user& what) {
    shown.push_back(what);
    if (on_show) on_show(what);
}

}  // namespace latchkey::test
