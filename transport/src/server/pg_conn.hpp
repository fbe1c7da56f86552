// One libpq connection used asynchronously on the awaiting coroutine's executor, and the
// bounded pool the PostgreSQL adapter takes them from (pg_store.cpp). Internal: no public
// header sees libpq or Asio types through here.
//
// I/O: the connection is non-blocking (PQsetnonblocking); its socket (PQsocket) is wrapped
// for the time of one query in a posix::stream_descriptor on the caller's executor and
// awaited with wait_read/wait_write; the descriptor is release()d afterwards (libpq owns
// the fd and closes it in PQfinish). Nothing in a connection is bound to an io_context, so
// the admin commands (a private io_context per operation) and `serve` use it alike.
// Threads: a connection and the pool are used from one thread at a time.
#pragma once

#include <latchkey/core/error.hpp>

#include <boost/asio/awaitable.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace latchkey::transport::server::detail {

// Text-format parameters $1..$n of one statement.
class pg_params {
public:
    pg_params() = default;
    template <class... A>
    explicit pg_params(const A&... a) {
        (add(a), ...);
    }
    pg_params& add(std::string_view v) {
        values_.emplace_back(v);
        return *this;
    }
    pg_params& add(const std::string& v) { return add(std::string_view(v)); }
    pg_params& add(const char* v) { return add(std::string_view(v)); }
    pg_params& add(std::int64_t v) {
        values_.push_back(std::to_string(v));
        return *this;
    }
    pg_params& add(int v) { return add(std::int64_t{v}); }
    pg_params& add(bool v) { return add(std::int64_t{v ? 1 : 0}); }
    const std::vector<std::string>& values() const { return values_; }

private:
    std::vector<std::string> values_;
};

// The rows of one finished statement (text format), and how many rows it changed.
class pg_rows {
public:
    pg_rows() = default;
    explicit pg_rows(PGresult* r) : r_(r, &PQclear) {}
    int size() const { return r_ ? PQntuples(r_.get()) : 0; }
    std::string text(int row, int col) const;
    std::int64_t int64(int row, int col) const;
    bool flag(int row, int col) const { return int64(row, col) != 0; }
    std::int64_t affected() const;  // INSERT/UPDATE/DELETE row count

private:
    std::shared_ptr<PGresult> r_;
};

// A row of pg_rows, for the mappers (record_from(row)).
struct pg_row {
    const pg_rows& rows;
    int index;
    std::string text(int col) const { return rows.text(index, col); }
    std::int64_t int64(int col) const { return rows.int64(index, col); }
    bool flag(int col) const { return rows.flag(index, col); }
};

class pg_conn {
public:
    ~pg_conn();
    pg_conn(const pg_conn&) = delete;
    pg_conn& operator=(const pg_conn&) = delete;

    // Opens a connection (PQconnectStart/PQconnectPoll, awaited) within `timeout`. Errors:
    // server_errc::storage_failed with the reason in `why` (libpq's message; no password:
    // libpq never echoes it).
    static boost::asio::awaitable<result<std::unique_ptr<pg_conn>>> connect(std::string conninfo,
                                                                           std::chrono::milliseconds timeout,
                                                                           std::string* why);
    // Runs one statement (prepared once per connection, by its text) within `timeout`.
    // Errors: already_exists (SQLSTATE class 23, a constraint), storage_failed (anything else:
    // logged, without bound values; the connection is marked broken when it is).
    boost::asio::awaitable<result<pg_rows>> query(const char* sql, const pg_params& p,
                                                  std::chrono::milliseconds timeout);
    // Several statements without parameters (BEGIN, COMMIT, ROLLBACK).
    boost::asio::awaitable<error_code> exec(const char* sql, std::chrono::milliseconds timeout);

    // The server closed it, a network error, a timeout mid-statement, or a transaction left open.
    bool broken() const;
    void mark_broken() { broken_ = true; }
    // An idle connection with unexpected input (the server's FATAL at shutdown, EOF) is
    // broken: checked without waiting before it is handed out again.
    bool still_good();

private:
    explicit pg_conn(PGconn* c) : c_(c) {}
    boost::asio::awaitable<error_code> send_and_wait(std::chrono::steady_clock::time_point deadline);
    boost::asio::awaitable<result<pg_rows>> collect(std::chrono::steady_clock::time_point deadline);
    // Waits until the socket is readable (or writable); false on timeout or error.
    boost::asio::awaitable<bool> wait(bool for_write, std::chrono::steady_clock::time_point deadline);

    PGconn* c_;
    bool broken_ = false;
    std::unordered_map<const char*, std::string> prepared_;  // statement text -> name
};

struct pg_pool_options {
    std::size_t size = 4;                             // connections at most
    std::size_t max_waiting = 4096;                   // callers waiting for one; beyond: busy
    std::chrono::milliseconds acquire_timeout{2000};  // waiting for a connection; then busy
    std::chrono::milliseconds connect_timeout{3000};
    std::chrono::milliseconds query_timeout{10000};
};

class pg_pool;

// A connection taken from the pool; it goes back (or is dropped if broken) when destroyed.
class pg_lease {
public:
    pg_lease(pg_pool& pool, std::unique_ptr<pg_conn> c) : pool_(&pool), c_(std::move(c)) {}
    pg_lease(pg_lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) {}
    pg_lease& operator=(pg_lease&&) = delete;
    ~pg_lease();
    pg_conn& operator*() const { return *c_; }
    pg_conn* operator->() const { return c_.get(); }

private:
    pg_pool* pool_;
    std::unique_ptr<pg_conn> c_;
};

// At most `size` connections, opened on demand (so a restarted server is reconnected to by
// the next caller). Callers wait for one in FIFO order, at most acquire_timeout.
class pg_pool {
public:
    pg_pool(std::string conninfo, pg_pool_options o) : conninfo_(std::move(conninfo)), o_(o) {}
    ~pg_pool();
    // Errors: busy (no connection within acquire_timeout, or too many waiting),
    // storage_failed (the server cannot be reached; logged).
    boost::asio::awaitable<result<pg_lease>> acquire();
    const pg_pool_options& options() const { return o_; }
    std::size_t in_use() const { return open_ - idle_.size(); }
    std::size_t waiting() const { return waiters_.size(); }

private:
    friend class pg_lease;
    struct waiter;
    void give_back(std::unique_ptr<pg_conn> c);
    void free_slot();
    boost::asio::awaitable<result<pg_lease>> open_one();

    std::string conninfo_;
    pg_pool_options o_;
    std::size_t open_ = 0;  // idle + leased + being opened
    std::vector<std::unique_ptr<pg_conn>> idle_;
    std::deque<waiter*> waiters_;
    std::chrono::steady_clock::time_point last_log_{};
};

void quiet_notices(PGconn* c);
// Logs a database failure at most once a second (a dead server fails every request).
void log_pg_failure(std::chrono::steady_clock::time_point& last, const std::string& what);

}  // namespace latchkey::transport::server::detail
