// The one driver: executes a flow's actions with the ports until done/failed.
#include <latchkey/transport/drive.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {
bool is_cancel(const error_code& ec) {
    return ec == asio::error::operation_aborted || ec == client_errc::cancelled;
}
}  // namespace

asio::awaitable<result<token_set>> async_drive(flows::flow& flow, ports p, diagnostics& diag) {
    flows::event ev = flows::started{p.clock.now()};
    for (;;) {
        auto act = flow.next(ev);
        // The event is consumed: free the reply it may hold (body, headers) now instead of
        // keeping it through the next wait (~0.6 KB per polling device flow, bench/README.md).
        ev = flows::started{};
        if (auto* s = std::get_if<flows::send_request>(&act)) {
            error_code ec;
            diagnostics http_diag;
            auto resp = co_await p.http.async_send(std::move(s->request), ec, http_diag);
            if (is_cancel(ec)) {
                diag.client_message = "cancelled";
                co_return client_errc::cancelled;
            }
            if (ec) diag = http_diag;  // the flow decides whether to retry; keep the why
            ev = flows::http_reply{p.clock.now(), ec, std::move(resp)};
        } else if (auto* w = std::get_if<flows::wait_until>(&act)) {
            if (auto ec = co_await p.clock.async_wait_until(w->deadline)) {
                diag.client_message = "cancelled";
                co_return client_errc::cancelled;
            }
            ev = flows::timer_fired{p.clock.now()};
        } else if (auto* u = std::get_if<flows::show_user>(&act)) {
            p.user.show(*u);
            ev = flows::user_shown{p.clock.now()};
        } else if (auto* c = std::get_if<flows::await_callback>(&act)) {
            if (!p.callback) {
                diag.client_message = "this flow needs a callback listener";
                co_return client_errc::bad_input;
            }
            error_code ec;
            auto url = co_await p.callback->async_wait_callback(c->deadline, ec);
            if (is_cancel(ec)) {
                diag.client_message = "cancelled";
                co_return client_errc::cancelled;
            }
            if (ec == client_errc::timeout) ev = flows::timer_fired{p.clock.now()};
            else if (ec) {
                diag.client_message = "waiting for the browser callback failed: " + ec.message();
                co_return ec;
            } else ev = flows::callback_received{p.clock.now(), std::move(url)};
        } else if (auto* d = std::get_if<flows::done>(&act)) {
            diag.clear();
            co_return std::move(d->tokens);
        } else {
            auto& f = std::get<flows::failed>(act);
            diag = std::move(f.diag);
            co_return f.ec;
        }
    }
}

}  // namespace latchkey::transport
