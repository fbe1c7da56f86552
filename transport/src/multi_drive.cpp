// The multiplexed driver (see multi_drive.hpp).
//
// Three kinds of coroutine, none per flow:
// - async_run, the timer loop: moves due flows to the ready queue, starts workers, keeps
//   one alarm armed for the earliest deadline, and otherwise sleeps on `wake`, a timer
//   that is cancelled to wake it (an alarm fired, a flow was added, a worker left);
// - alarms: one clock_port wait each, co_spawned on a signal of ours so that an alarm
//   made stale by an earlier deadline can be cancelled (the clock port has no re-arm);
// - workers, at most max_in_flight: each takes ready flows first come, first served and
//   runs their steps until the flow waits or ends, then exits when the queue is empty.
// All state is in `state`, which outlives every coroutine (async_run waits for them).
#include <latchkey/transport/multi_drive.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <list>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {
struct worker_slot {
    asio::cancellation_signal cancel;
    flows::flow_id current;
    bool busy = false;       // a worker coroutine runs on this slot
    bool exchanging = false; // ... and `current`'s request is in flight
    bool doomed = false;     // its exchange was aborted: the worker exits after it
};
struct alarm {
    asio::cancellation_signal cancel;
    time_point until;
    bool cancelled = false;
    bool finished = false;
};
}  // namespace

struct multi_driver::state {
    state(asio::any_io_executor e, http_port& h, clock_port& c, handlers hs, options o)
        : ex(std::move(e)), http(h), clock(c), on(std::move(hs)), opt(o),
          workers(new worker_slot[o.max_in_flight ? o.max_in_flight : 1]),
          wake_timer(ex, asio::steady_timer::time_point::max()) {
        if (opt.max_in_flight == 0) opt.max_in_flight = 1;
    }

    asio::any_io_executor ex;
    http_port& http;
    clock_port& clock;
    handlers on;
    options opt;
    flows::flow_scheduler sched;
    std::unique_ptr<worker_slot[]> workers;
    std::size_t busy_workers = 0;
    std::list<alarm> alarms;        // the last one is the armed alarm unless finished
    std::size_t pending_alarms = 0; // alarms whose coroutine has not completed
    asio::steady_timer wake_timer;
    bool stopping = false;

    void wake() { wake_timer.cancel(); }
    void end(flows::flow_id id, result<token_set> r, const diagnostics& d) {
        if (on.on_done) on.on_done(id, std::move(r), d);
    }
    void end_cancelled(flows::flow_id id) {
        diagnostics d;
        d.client_message = "cancelled";
        end(id, client_errc::cancelled, d);
    }
    void spawn_workers();
    void arm(time_point until);
    void cancel_alarms();
    void stop_all();
};

namespace {

bool is_cancel(const error_code& ec) {
    return ec == asio::error::operation_aborted || ec == client_errc::cancelled;
}

// Runs one ready flow until it waits (its deadline queued) or ends. Returns false when the
// worker must exit (its exchange was aborted: the coroutine's cancellation state is spent).
asio::awaitable<bool> async_run_flow(multi_driver::state* s, worker_slot* w,
                                     flows::flow_scheduler::ready_flow r) {
    const flows::flow_id id = r.id;
    flows::event ev = r.started ? flows::event{flows::started{s->clock.now()}}
                                : flows::event{flows::timer_fired{s->clock.now()}};
    for (;;) {
        auto act = s->sched.step(id, ev);
        ev = flows::started{};  // free a reply now, not after the next wait
        if (auto* q = std::get_if<flows::send_request>(&act)) {
            if (!r.started && s->on.on_poll) {
                s->on.on_poll(id, r.deadline, s->clock.now());
                r.started = true;  // report the timer's poll once
            }
            error_code ec;
            diagnostics http_diag;
            w->current = id;
            w->exchanging = true;
            auto resp = co_await s->http.async_send(std::move(q->request), ec, http_diag);
            w->exchanging = false;
            if (w->doomed) co_return false;           // cancel(id) or stop(): already ended
            if (!s->sched.live(id)) co_return true;   // ended meanwhile
            if (is_cancel(ec)) {
                s->sched.cancel(id);
                s->end_cancelled(id);
                co_return false;
            }
            ev = flows::http_reply{s->clock.now(), ec, std::move(resp)};
        } else if (auto* u = std::get_if<flows::show_user>(&act)) {
            if (s->on.on_show) s->on.on_show(id, *u);
            if (!s->sched.live(id)) co_return true;   // the handler cancelled it
            ev = flows::user_shown{s->clock.now()};
        } else if (auto* wt = std::get_if<flows::wait_until>(&act)) {
            s->arm(wt->deadline);
            co_return true;
        } else if (auto* d = std::get_if<flows::done>(&act)) {
            s->end(id, std::move(d->tokens), diagnostics{});
            co_return true;
        } else {
            auto& f = std::get<flows::failed>(act);
            s->end(id, f.ec, f.diag);
            co_return true;
        }
    }
}

asio::awaitable<void> async_worker(multi_driver::state* s, worker_slot* w) {
    // An aborted exchange is reported as operation_aborted, never thrown (STYLE.md).
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!s->stopping) {
        auto r = s->sched.take_ready();
        if (!r) break;
        const bool go_on = co_await async_run_flow(s, w, *r);
        if (!go_on) break;
    }
}

// Completion of a worker's coroutine: frees its slot. A plain struct, not a capturing
// lambda (GCC 12, STYLE.md).
struct worker_done {
    multi_driver::state* s;
    worker_slot* w;
    void operator()(std::exception_ptr e) const {
        w->busy = false;
        w->doomed = false;
        w->exchanging = false;
        --s->busy_workers;
        s->wake();  // more ready flows, the last flow ended, or stop() waits for us
        if (e) std::rethrow_exception(e);
    }
};

asio::awaitable<void> async_alarm(clock_port* clock, time_point until) {
    co_await asio::this_coro::throw_if_cancelled(false);
    (void)co_await clock->async_wait_until(until);
}

struct alarm_done {
    multi_driver::state* s;
    alarm* a;
    void operator()(std::exception_ptr e) const {
        a->finished = true;
        --s->pending_alarms;
        s->wake();
        if (e) std::rethrow_exception(e);
    }
};

// Installed on async_run's own cancellation slot.
struct stop_on_cancel {
    multi_driver::state* s;
    void operator()(asio::cancellation_type_t) const { s->stop_all(); }
};

}  // namespace

void multi_driver::state::spawn_workers() {
    for (std::size_t i = 0; i < opt.max_in_flight && !stopping; ++i) {
        if (sched.ready_count() == 0 || busy_workers >= opt.max_in_flight) return;
        worker_slot* w = &workers[i];
        if (w->busy) continue;
        w->busy = true;
        ++busy_workers;
        auto coro = async_worker(this, w);
        const worker_done done{this, w};
        asio::co_spawn(ex, std::move(coro), asio::bind_cancellation_slot(w->cancel.slot(), done));
    }
}

// Keeps one alarm for the earliest deadline: a later one stays armed and the loop re-arms
// when it fires; an earlier one replaces it (the old alarm is cancelled). Deadlines are
// rounded up to the timer_slack grid, so the polls due within one step share an alarm.
void multi_driver::state::arm(time_point until) {
    if (opt.timer_slack.count() > 0 &&
        until < time_point::max() - std::chrono::duration_cast<time_point::duration>(opt.timer_slack)) {
        const auto step = std::chrono::duration_cast<time_point::duration>(opt.timer_slack);
        const auto off = until.time_since_epoch() % step;
        if (off.count() > 0) until += step - off;
        else if (off.count() < 0) until -= off;
    }
    while (!alarms.empty() && alarms.front().finished) alarms.pop_front();
    if (stopping) return;
    if (!alarms.empty() && !alarms.back().finished && !alarms.back().cancelled) {
        if (alarms.back().until <= until) return;
        alarms.back().cancelled = true;
        alarms.back().cancel.emit(asio::cancellation_type::terminal);
    }
    alarm& a = alarms.emplace_back();
    a.until = until;
    ++pending_alarms;
    auto coro = async_alarm(&clock, until);
    const alarm_done done{this, &a};
    asio::co_spawn(ex, std::move(coro), asio::bind_cancellation_slot(a.cancel.slot(), done));
}

void multi_driver::state::cancel_alarms() {
    for (auto& a : alarms) {
        if (a.finished || a.cancelled) continue;
        a.cancelled = true;
        a.cancel.emit(asio::cancellation_type::terminal);
    }
}

void multi_driver::state::stop_all() {
    if (!stopping) {
        stopping = true;
        for (std::size_t i = 0; i < opt.max_in_flight; ++i) {
            worker_slot& w = workers[i];
            if (!w.busy || !w.exchanging) continue;
            w.doomed = true;
            w.cancel.emit(asio::cancellation_type::terminal);
        }
        cancel_alarms();
    }
    for (const flows::flow_id id : sched.live_ids()) {
        sched.cancel(id);
        end_cancelled(id);
    }
    wake();
}

multi_driver::multi_driver(asio::any_io_executor ex, http_port& http, clock_port& clock,
                           handlers h, options o)
    : s_(std::make_unique<state>(std::move(ex), http, clock, std::move(h), o)) {}

multi_driver::multi_driver(asio::any_io_executor ex, http_port& http, clock_port& clock,
                           handlers h)
    : multi_driver(std::move(ex), http, clock, std::move(h), options{}) {}

multi_driver::~multi_driver() = default;

std::size_t multi_driver::live_count() const noexcept { return s_->sched.live_count(); }

flows::flow_id multi_driver::add(std::unique_ptr<flows::flow> f) {
    const flows::flow_id id = s_->sched.add(std::move(f));
    if (s_->stopping) {
        s_->sched.cancel(id);
        s_->end_cancelled(id);
        return id;
    }
    s_->spawn_workers();
    return id;
}

bool multi_driver::cancel(flows::flow_id id) {
    if (!s_->sched.cancel(id)) return false;
    for (std::size_t i = 0; i < s_->opt.max_in_flight; ++i) {
        worker_slot& w = s_->workers[i];
        if (!w.busy || !w.exchanging || !(w.current == id)) continue;
        w.doomed = true;
        w.cancel.emit(asio::cancellation_type::terminal);
    }
    s_->end_cancelled(id);
    s_->wake();
    return true;
}

void multi_driver::stop() { s_->stop_all(); }

asio::awaitable<void> multi_driver::async_run() {
    state* s = s_.get();
    // Nothing may throw out of here while a worker or an alarm runs: they point into *s.
    const bool throws = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    auto cs = co_await asio::this_coro::cancellation_state;
    auto outer = cs.slot();
    const asio::cancellation_slot none;
    for (;;) {
        if (cs.cancelled() != asio::cancellation_type::none) s->stop_all();
        if (!s->stopping) {
            s->sched.fire_due(s->clock.now());
            s->spawn_workers();
            if (auto next = s->sched.next_deadline()) s->arm(*next);
        }
        const bool idle = s->sched.live_count() == 0 && !s->opt.run_until_stopped;
        if ((s->stopping || idle) && s->busy_workers == 0) {
            s->cancel_alarms();
            if (s->pending_alarms == 0) break;
        }
        s->wake_timer.expires_at(asio::steady_timer::time_point::max());
        // Our cancellation reaches stop_all(), not the wait: the wait has no slot of its
        // own, and the handler is installed anew each time (an awaitable clears its
        // child slot whenever an operation completes).
        if (outer.is_connected()) outer.emplace<stop_on_cancel>(stop_on_cancel{s});
        (void)co_await s->wake_timer.async_wait(
            asio::bind_cancellation_slot(none, asio::as_tuple(asio::use_awaitable)));
    }
    s->alarms.clear();
    if (outer.is_connected()) outer.clear();
    co_await asio::this_coro::throw_if_cancelled(throws);
}

}  // namespace latchkey::transport
