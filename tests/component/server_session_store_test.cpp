// latch-idp's browser sessions on SQLite: stored by hash, sliding expiry (Better Auth's
// updateAge), list and delete per user.
#include "support/lifecycle_run.hpp"
#include "support/test_cert.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>
#include <latchkey/transport/server/sqlite_store.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using latchkey::flows::server::hash_token;
using latchkey::flows::server::server_errc;

TEST_CASE("SQLite store: sessions slide after update_age, list per user, delete only the owner's",
          "[component][server][store][session]") {
    test::temp_dir dir;
    asio::io_context io;
    diagnostics diag;
    auto opened = open_sqlite_store((dir.path() / "idp.db").string(), diag);
    REQUIRE(opened.has_value());
    auto& st = **opened;
    constexpr std::int64_t t0 = 1'000'000, day = 86400, ttl = 7 * day;
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        {
            auto e = co_await st.put_user({"u1", "carol@example.com", "h", t0, "Carol"});
            REQUIRE_FALSE(e);
        }
        {
            auto e = co_await st.put_user({"u2", "eve@example.com", "h", t0, "Eve"});
            REQUIRE_FALSE(e);
        }
        {
            auto e = co_await st.put_session({hash_token("a"), "u1", "127.0.0.1", "ua", t0, t0, t0 + ttl});
            REQUIRE_FALSE(e);
        }
        {
            auto e = co_await st.put_session({hash_token("b"), "u1", "127.0.0.2", "ua", t0 + 1, t0 + 1, t0 + 1 + ttl});
            REQUIRE_FALSE(e);
        }
        {
            auto e = co_await st.put_session({hash_token("c"), "u2", "127.0.0.3", "ua", t0, t0, t0 + ttl});
            REQUIRE_FALSE(e);
        }

        auto early = co_await st.use_session(hash_token("a"), t0 + day - 1, day, ttl);
        REQUIRE(early.has_value());
        CHECK_FALSE(early->extended);
        CHECK(early->session.expires_at == t0 + ttl);
        CHECK(early->user.name == "Carol");
        CHECK(early->user.username == "carol@example.com");
        auto later = co_await st.use_session(hash_token("a"), t0 + day, day, ttl);
        REQUIRE(later.has_value());
        CHECK(later->extended);
        CHECK(later->session.expires_at == t0 + day + ttl);
        auto again = co_await st.use_session(hash_token("a"), t0 + day + 5, day, ttl);
        CHECK_FALSE(again->extended);  // extended a moment ago
        CHECK(again->session.expires_at == t0 + day + ttl);
        auto expired = co_await st.use_session(hash_token("b"), t0 + 1 + ttl, day, ttl);
        CHECK(expired.error() == server_errc::not_found);
        auto unknown = co_await st.use_session(hash_token("zz"), t0, day, ttl);
        CHECK(unknown.error() == server_errc::not_found);

        auto mine = co_await st.list_sessions("u1", t0 + 2);
        REQUIRE(mine.has_value());
        REQUIRE(mine->size() == 2);
        CHECK((*mine)[0].token_hash == hash_token("b"));  // newest first

        auto not_yours = co_await st.delete_session(hash_token("c"), "u1");
        CHECK(not_yours.value() == false);
        auto still = co_await st.use_session(hash_token("c"), t0 + 2, day, ttl);
        CHECK(still.has_value());
        auto del_b = co_await st.delete_session(hash_token("b"), "u1");
        CHECK(del_b.value() == true);
        auto del_c = co_await st.delete_session(hash_token("c"), "");
        CHECK(del_c.value() == true);
        auto left = co_await st.list_sessions("u1", t0 + 2);
        CHECK(left->size() == 1);
        co_return true;
    }());
}
