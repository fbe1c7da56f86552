// A libpq connection awaited on Asio, and its pool (pg_conn.hpp).
#include "pg_conn.hpp"

#include <latchkey/flows/server/server_error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace latchkey::transport::server::detail {

namespace asio = boost::asio;
using flows::server::server_errc;
using clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

std::string pg_rows::text(int row, int col) const {
    const char* v = PQgetvalue(r_.get(), row, col);
    return std::string(v, static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
}

std::int64_t pg_rows::int64(int row, int col) const {
    const char* v = PQgetvalue(r_.get(), row, col);
    std::int64_t out = 0;
    std::from_chars(v, v + PQgetlength(r_.get(), row, col), out);
    return out;
}

std::int64_t pg_rows::affected() const {
    const char* n = r_ ? PQcmdTuples(r_.get()) : "";
    std::int64_t out = 0;
    std::from_chars(n, n + std::char_traits<char>::length(n), out);
    return out;
}

void log_pg_failure(clock::time_point& last, const std::string& what) {
    const auto now = clock::now();
    if (now - last < std::chrono::seconds(1)) return;
    last = now;
    std::string line = what;
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    std::replace(line.begin(), line.end(), '\n', ' ');
    std::fprintf(stderr, "latch-idp: database: %s\n", line.c_str());
}

namespace {

clock::time_point g_last_log{};

// A failed statement: class 23 (integrity constraint) is the caller's already_exists; the
// rest is logged by SQLSTATE and primary message (which never quotes bound values; the
// DETAIL field does, so it is left out).
error_code statement_error(const PGresult* r) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && state[0] == '2' && state[1] == '3') return make_error_code(server_errc::already_exists);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    log_pg_failure(g_last_log, std::string(state ? state : "?????") + " " + (primary ? primary : "unknown error"));
    return make_error_code(server_errc::storage_failed);
}

}  // namespace

// libpq prints the server's NOTICEs on stderr by default; they are not ours to show.
void quiet_notices(PGconn* c) {
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
}

pg_conn::~pg_conn() {
    PQfinish(c_);
}

bool pg_conn::broken() const {
    return broken_ || PQstatus(c_) != CONNECTION_OK || PQtransactionStatus(c_) != PQTRANS_IDLE;
}

bool pg_conn::still_good() {
    if (broken()) return false;
    // Idle, nothing is expected from the server: anything readable is its goodbye (a FATAL
    // at shutdown, EOF after a restart). Dropping it costs one reconnect.
    pollfd p{PQsocket(c_), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
}

asio::awaitable<bool> pg_conn::wait(bool for_write, clock::time_point deadline) {
    auto ex = co_await asio::this_coro::executor;
    const int fd = PQsocket(c_);
    if (fd < 0) co_return false;
    asio::posix::stream_descriptor sock(ex, fd);
    // The timer's handler may run after this frame is gone: it reaches the socket only
    // through `alive`, which the guard clears.
    auto alive = std::make_shared<asio::posix::stream_descriptor*>(&sock);
    struct guard {
        asio::posix::stream_descriptor& s;
        std::shared_ptr<asio::posix::stream_descriptor*> alive;
        ~guard() {
            *alive = nullptr;
            s.release();  // libpq owns the fd
        }
    } g{sock, alive};
    asio::steady_timer timer(ex, deadline);
    timer.async_wait([alive](const boost::system::error_code& ec) {
        if (!ec && *alive) (*alive)->cancel();
    });
    const auto what = for_write ? asio::posix::stream_descriptor::wait_write
                                : asio::posix::stream_descriptor::wait_read;
    auto [ec] = co_await sock.async_wait(what, use_nothrow);
    timer.cancel();
    co_return !ec;
}

asio::awaitable<result<std::unique_ptr<pg_conn>>> pg_conn::connect(std::string conninfo,
                                                                   std::chrono::milliseconds timeout,
                                                                   std::string* why) {
    PGconn* raw = PQconnectStart(conninfo.c_str());
    if (!raw) {
        *why = "out of memory";
        co_return make_error_code(server_errc::storage_failed);
    }
    std::unique_ptr<pg_conn> c(new pg_conn(raw));
    quiet_notices(raw);
    const auto deadline = clock::now() + timeout;
    // libpq: start as if PQconnectPoll had answered "writing"; re-read PQsocket at each
    // step (it changes when libpq tries the next host or address).
    auto st = PQstatus(raw) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        if (!co_await c->wait(st == PGRES_POLLING_WRITING, deadline)) {
            *why = "no answer from the database server within " + std::to_string(timeout.count()) + " ms";
            co_return make_error_code(server_errc::storage_failed);
        }
        st = PQconnectPoll(raw);
    }
    if (st == PGRES_POLLING_FAILED || PQsetnonblocking(raw, 1) != 0) {
        *why = PQerrorMessage(raw);
        co_return make_error_code(server_errc::storage_failed);
    }
    co_return std::move(c);
}

asio::awaitable<error_code> pg_conn::send_and_wait(clock::time_point deadline) {
    for (;;) {
        const int f = PQflush(c_);
        if (f == 0) co_return error_code{};
        if (f < 0 || !co_await wait(true, deadline)) break;
    }
    broken_ = true;
    log_pg_failure(g_last_log, PQerrorMessage(c_));
    co_return make_error_code(server_errc::storage_failed);
}

// Reads every result of the statement sent; the rows of the last one are returned.
asio::awaitable<result<pg_rows>> pg_conn::collect(clock::time_point deadline) {
    pg_rows out;
    error_code failure;
    for (;;) {
        while (PQisBusy(c_)) {
            // A timeout leaves the statement running on the server: the connection is
            // dropped (the server aborts its transaction when it notices).
            if (!co_await wait(false, deadline) || !PQconsumeInput(c_)) {
                broken_ = true;
                log_pg_failure(g_last_log, PQstatus(c_) == CONNECTION_OK ? std::string("statement timed out")
                                                                         : std::string(PQerrorMessage(c_)));
                co_return make_error_code(server_errc::storage_failed);
            }
        }
        PGresult* r = PQgetResult(c_);
        if (!r) break;
        const auto status = PQresultStatus(r);
        if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
            out = pg_rows(r);
            continue;
        }
        if (!failure) failure = status == PGRES_FATAL_ERROR ? statement_error(r)
                                                            : make_error_code(server_errc::storage_failed);
        PQclear(r);
    }
    if (PQstatus(c_) != CONNECTION_OK) broken_ = true;
    if (failure) co_return failure;
    co_return out;
}

asio::awaitable<result<pg_rows>> pg_conn::query(const char* sql, const pg_params& p,
                                                std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    if (broken_) co_return make_error_code(server_errc::storage_failed);
    const int n = static_cast<int>(p.values().size());
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
        std::string name = "latch_" + std::to_string(prepared_.size());
        if (!PQsendPrepare(c_, name.c_str(), sql, n, nullptr)) {
            broken_ = true;
            co_return make_error_code(server_errc::storage_failed);
        }
        if (auto ec = co_await send_and_wait(deadline)) co_return ec;
        auto done = co_await collect(deadline);
        if (!done) co_return done.error();
        it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<const char*> values;
    values.reserve(p.values().size());
    for (const auto& v : p.values()) values.push_back(v.c_str());
    if (!PQsendQueryPrepared(c_, it->second.c_str(), n, values.data(), nullptr, nullptr, 0)) {
        broken_ = true;
        co_return make_error_code(server_errc::storage_failed);
    }
    if (auto ec = co_await send_and_wait(deadline)) co_return ec;
    co_return co_await collect(deadline);
}

asio::awaitable<error_code> pg_conn::exec(const char* sql, std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    if (broken_ || !PQsendQuery(c_, sql)) {
        broken_ = true;
        co_return make_error_code(server_errc::storage_failed);
    }
    if (auto ec = co_await send_and_wait(deadline)) co_return ec;
    auto done = co_await collect(deadline);
    co_return done ? error_code{} : done.error();
}

// ---- the pool

struct pg_pool::waiter {
    waiter(const asio::any_io_executor& ex, std::deque<waiter*>& queue) : timer(ex), queue(queue) {}
    // A waiter whose coroutine is destroyed unfinished (the io_context going away) leaves
    // the queue, so no give_back reaches it.
    ~waiter() { queue.erase(std::remove(queue.begin(), queue.end(), this), queue.end()); }
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;
    asio::steady_timer timer;
    std::deque<waiter*>& queue;
    std::unique_ptr<pg_conn> conn;  // handed over by give_back
    bool may_open = false;          // a slot freed: open a connection yourself
};

pg_lease::~pg_lease() {
    if (c_) pool_->give_back(std::move(c_));
}

pg_pool::~pg_pool() = default;

// A connection is gone: its slot goes to the first waiter (who opens one), else is freed.
void pg_pool::free_slot() {
    if (waiters_.empty()) {
        --open_;
        return;
    }
    auto* w = waiters_.front();
    waiters_.pop_front();
    w->may_open = true;
    w->timer.cancel();
}

void pg_pool::give_back(std::unique_ptr<pg_conn> c) {
    if (c->broken()) {
        c.reset();
        free_slot();
        return;
    }
    if (!waiters_.empty()) {
        auto* w = waiters_.front();
        waiters_.pop_front();
        w->conn = std::move(c);
        w->timer.cancel();
        return;
    }
    idle_.push_back(std::move(c));
}

asio::awaitable<result<pg_lease>> pg_pool::open_one() {
    std::string why;
    auto c = co_await pg_conn::connect(conninfo_, o_.connect_timeout, &why);
    if (!c) {
        log_pg_failure(last_log_, "cannot connect: " + why);
        free_slot();
        co_return c.error();
    }
    co_return pg_lease(*this, std::move(*c));
}

asio::awaitable<result<pg_lease>> pg_pool::acquire() {
    while (!idle_.empty()) {  // newest first: the warmest connection
        auto c = std::move(idle_.back());
        idle_.pop_back();
        if (c->still_good()) co_return pg_lease(*this, std::move(c));
        --open_;
    }
    if (open_ < o_.size) {
        ++open_;
        co_return co_await open_one();
    }
    if (waiters_.size() >= o_.max_waiting) co_return make_error_code(server_errc::busy);
    auto ex = co_await asio::this_coro::executor;
    waiter w(ex, waiters_);
    w.timer.expires_after(o_.acquire_timeout);
    waiters_.push_back(&w);
    co_await w.timer.async_wait(use_nothrow);
    if (w.conn) {
        if (w.conn->still_good()) co_return pg_lease(*this, std::move(w.conn));
        w.conn.reset();  // keep its slot: open a fresh one instead
        co_return co_await open_one();
    }
    if (w.may_open) co_return co_await open_one();
    co_return make_error_code(server_errc::busy);  // timed out (~waiter leaves the queue)
}

}  // namespace latchkey::transport::server::detail
