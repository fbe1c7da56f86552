// What the PostgreSQL adapter adds to the store contract (the contract itself runs against
// both adapters in server_store_test.cpp and its neighbours): replicas starting together
// migrate once; attempt counters shared by stores on one database; a restarted server is
// reconnected to without failing the next request.
#include "support/lifecycle_run.hpp"
#include "support/store_backends.hpp"
#include "support/test_cert.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>
#include <latchkey/transport/server/pg_store.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <thread>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using latchkey::flows::server::hash_token;
namespace records = latchkey::flows::server;

TEST_CASE("store: attempts are counted once each across two stores, per key and window",
          "[component][server][store][rate]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    auto a = db.open();
    auto b = db.open();
    asio::io_context io;
    std::multiset<std::int64_t> counts;
    const std::string key = "sign-in:127.0.0.1";
    for (int i = 0; i < 20; ++i) {
        store& s = i % 2 ? *a : *b;
        asio::co_spawn(io, [&s, &counts, key]() -> asio::awaitable<void> {
            auto n = co_await s.count_attempt(key, 600);
            REQUIRE(n.has_value());
            counts.insert(*n);
        }, asio::detached);
    }
    io.run();
    std::multiset<std::int64_t> expected;
    for (std::int64_t i = 1; i <= 20; ++i) expected.insert(i);
    CHECK(counts == expected);  // 20 distinct counts: none lost, none doubled
    auto later = test::run_to_end(io, [&]() -> asio::awaitable<std::vector<std::int64_t>> {
        const std::string other = "sign-in:10.0.0.1";
        auto fresh_key = co_await a->count_attempt(other, 600);
        auto next_window = co_await b->count_attempt(key, 660);
        co_return std::vector<std::int64_t>{*fresh_key, *next_window};
    }());
    CHECK(later == std::vector<std::int64_t>{1, 1});
    CHECK(db.scalar("SELECT COUNT(*) FROM rate_limits WHERE window_start < 660") == "0");  // swept
}

TEST_CASE("PostgreSQL store: replicas starting together migrate once, versions 1..N without gaps",
          "[component][server][store][pg]") {
    test::temp_dir dir;
    const test::store_db db("postgresql", dir.path());
    if (!db.available()) return;
    std::vector<std::thread> replicas;
    std::vector<int> opened(4, 0);
    for (int i = 0; i < 4; ++i)
        replicas.emplace_back([&db, &opened, i] {
            diagnostics diag;
            opened[static_cast<std::size_t>(i)] = open_pg_store(db.location(), diag).has_value() ? 1 : 0;
        });
    for (auto& t : replicas) t.join();
    CHECK(opened == std::vector<int>{1, 1, 1, 1});
    // Every migration applied once, numbered 1..N without gaps (the list both adapters share).
    CHECK(db.scalar("SELECT COUNT(*) = MAX(version) AND MIN(version) = 1 FROM schema_migrations") == "t");
    // The same steps as SQLite applies.
    const test::store_db lite("sqlite", dir.path());
    { auto opened_lite = lite.open(); }
    CHECK(lite.scalar("SELECT MAX(version) FROM schema_migrations") ==
          db.scalar("SELECT MAX(version) FROM schema_migrations"));
}

TEST_CASE("PostgreSQL store: after a server restart the next operations succeed, nothing committed is lost",
          "[component][server][store][pg]") {
    test::temp_dir dir;
    const test::store_db db("postgresql", dir.path());
    if (!db.available()) return;
    auto st = db.open();
    asio::io_context io;
    constexpr std::int64_t t0 = 1'000'000, ttl = 86400;
    const std::string h = hash_token("s");
    auto put = test::run_to_end(io, [&]() -> asio::awaitable<error_code> {
        records::user_record user{"u1", "dana", "h", t0};
        auto e = co_await st->put_user(user);
        REQUIRE_FALSE(e);
        // Several sessions at once: the pool opens more than one connection.
        records::session_record rec{h, "u1", "127.0.0.1", "ua", t0, t0, t0 + ttl};
        co_return co_await st->put_session(rec);
    }());
    REQUIRE_FALSE(put);
    if (!test::pg_server_restart()) {
        WARN("the PostgreSQL server is not this test's to restart ($LATCH_PG_URI): skipped");
        return;
    }
    // The pooled connections died with the old server: each is found dead before use and
    // replaced, so no caller sees the restart.
    std::vector<int> found;
    for (int i = 0; i < 8; ++i)
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            auto s = co_await st->use_session(h, t0 + 1, ttl, ttl);
            found.push_back(s.has_value() ? 1 : 0);
        }, asio::detached);
    io.restart();
    io.run();
    CHECK(found == std::vector<int>(8, 1));
}

TEST_CASE("PostgreSQL store: a full pool makes callers wait, bounded: busy beyond max_waiting, then it serves",
          "[component][server][store][pg]") {
    test::temp_dir dir;
    const test::store_db db("postgresql", dir.path());
    if (!db.available()) return;
    pg_options o;
    o.pool_size = 1;
    o.max_waiting = 4;
    diagnostics diag;
    auto opened = open_pg_store(db.location(), diag, o);
    REQUIRE(opened.has_value());
    auto& st = **opened;
    asio::io_context io;
    std::map<std::string, int> outcomes;
    for (int i = 0; i < 20; ++i)
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            const std::string id = "nobody";
            auto r = co_await st.find_user_by_id(id);
            ++outcomes[r ? "found" : r.error() == flows::server::server_errc::not_found ? "answered" : r.error().message()];
        }, asio::detached);
    io.run();
    // One runs, four wait for the one connection; the other fifteen are told busy at once.
    CHECK(outcomes["answered"] == 5);
    CHECK(outcomes[make_error_code(flows::server::server_errc::busy).message()] == 15);
    CHECK(outcomes.size() == 2);
    auto later = test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        const std::string id = "nobody";
        auto r = co_await st.find_user_by_id(id);
        co_return !r && r.error() == flows::server::server_errc::not_found;
    }());
    CHECK(later);
}
