// latch-idp's browser sessions on SQLite: stored by hash, sliding expiry (Better Auth's
// updateAge), list and delete per user; look-ups that do not wait behind a stalled write.
#include "support/lifecycle_run.hpp"
#include "support/store_backends.hpp"
#include "support/test_cert.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>
#include <latchkey/transport/server/sqlite_store.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <chrono>
#include <optional>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using latchkey::flows::server::hash_token;
using latchkey::flows::server::server_errc;
namespace records = latchkey::flows::server;

TEST_CASE("store: sessions slide after update_age, list per user, delete only the owner's",
          "[component][server][store][session]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto opened = db.open();
    auto& st = *opened;
    constexpr std::int64_t t0 = 1'000'000, day = 86400, ttl = 7 * day;
    // Named values only around co_await (GCC 12 destroys some co_await temporaries twice).
    const std::string ha = hash_token("a"), hb = hash_token("b"), hc = hash_token("c"), hz = hash_token("zz");
    const std::string u1 = "u1", anyone;
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        {
            records::user_record rec{"u1", "carol@example.com", "h", t0, "Carol"};
            auto e = co_await st.put_user(rec);
            REQUIRE_FALSE(e);
        }
        {
            records::user_record rec{"u2", "eve@example.com", "h", t0, "Eve"};
            auto e = co_await st.put_user(rec);
            REQUIRE_FALSE(e);
        }
        {
            records::session_record rec{ha, "u1", "127.0.0.1", "ua", t0, t0, t0 + ttl};
            auto e = co_await st.put_session(rec);
            REQUIRE_FALSE(e);
        }
        {
            records::session_record rec{hb, "u1", "127.0.0.2", "ua", t0 + 1, t0 + 1, t0 + 1 + ttl};
            auto e = co_await st.put_session(rec);
            REQUIRE_FALSE(e);
        }
        {
            records::session_record rec{hc, "u2", "127.0.0.3", "ua", t0, t0, t0 + ttl};
            auto e = co_await st.put_session(rec);
            REQUIRE_FALSE(e);
        }

        auto early = co_await st.use_session(ha, t0 + day - 1, day, ttl);
        REQUIRE(early.has_value());
        CHECK_FALSE(early->extended);
        CHECK(early->session.expires_at == t0 + ttl);
        CHECK(early->user.name == "Carol");
        CHECK(early->user.username == "carol@example.com");
        auto later = co_await st.use_session(ha, t0 + day, day, ttl);
        REQUIRE(later.has_value());
        CHECK(later->extended);
        CHECK(later->session.expires_at == t0 + day + ttl);
        auto again = co_await st.use_session(ha, t0 + day + 5, day, ttl);
        CHECK_FALSE(again->extended);  // extended a moment ago
        CHECK(again->session.expires_at == t0 + day + ttl);
        auto expired = co_await st.use_session(hb, t0 + 1 + ttl, day, ttl);
        CHECK(expired.error() == server_errc::not_found);
        auto unknown = co_await st.use_session(hz, t0, day, ttl);
        CHECK(unknown.error() == server_errc::not_found);

        auto mine = co_await st.list_sessions(u1, t0 + 2);
        REQUIRE(mine.has_value());
        REQUIRE(mine->size() == 2);
        CHECK((*mine)[0].token_hash == hb);  // newest first

        auto not_yours = co_await st.delete_session(hc, u1);
        CHECK(not_yours.value() == false);
        auto still = co_await st.use_session(hc, t0 + 2, day, ttl);
        CHECK(still.has_value());
        auto del_b = co_await st.delete_session(hb, u1);
        CHECK(del_b.value() == true);
        auto del_c = co_await st.delete_session(hc, anyone);
        CHECK(del_c.value() == true);
        auto left = co_await st.list_sessions(u1, t0 + 2);
        CHECK(left->size() == 1);
        co_return true;
    }());
}

TEST_CASE("SQLite store: a session look-up does not wait behind a write stalled on the lock",
          "[component][server][store][session]") {
    test::temp_dir dir;
    const std::string path = (dir.path() / "idp.db").string();
    asio::io_context io;
    diagnostics diag;
    auto opened = open_sqlite_store(path, diag);
    REQUIRE(opened.has_value());
    auto& st = **opened;
    constexpr std::int64_t t0 = 1'000'000, day = 86400, ttl = 7 * day;
    const std::string ha = hash_token("a"), hb = hash_token("b");
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        records::user_record user{"u1", "carol@example.com", "h", t0, "Carol"};
        auto e = co_await st.put_user(user);
        REQUIRE_FALSE(e);
        records::session_record rec{ha, "u1", "127.0.0.1", "ua", t0, t0, t0 + ttl};
        auto e2 = co_await st.put_session(rec);
        REQUIRE_FALSE(e2);
        co_return true;
    }());

    // Another writer (the admin CLI, say) holds the write lock: the store's writer thread
    // waits for it (busy_timeout, 5 s) with a sign-in's session insert, as it would wait
    // for a slow fsync. A get-session's look-up meanwhile is answered at once.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    std::optional<error_code> put_result;
    records::session_record stalled{hb, "u1", "127.0.0.2", "ua", t0, t0, t0 + ttl};
    asio::co_spawn(io, st.put_session(stalled), [&](std::exception_ptr, error_code ec) { put_result = ec; });
    double look_up_ms = -1;
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        asio::steady_timer settle(io, std::chrono::milliseconds(100));  // the insert reaches the lock
        co_await settle.async_wait(asio::use_awaitable);
        const auto start = std::chrono::steady_clock::now();
        auto found = co_await st.use_session(ha, t0 + 1, day, ttl);
        look_up_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        CHECK(found.has_value());
        CHECK_FALSE(put_result.has_value());  // the insert is still waiting for the lock
        sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
        co_return true;
    }());
    sqlite3_close(other);
    CHECK(look_up_ms >= 0);
    CHECK(look_up_ms < 1000);
    REQUIRE(put_result.has_value());
    CHECK_FALSE(*put_result);  // and it went through once the lock was free
}
