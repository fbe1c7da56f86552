// latch-idp platform roles and bans on SQLite (migration 7): role and ban round-trip with the
// session's user (no extra query), a ban deletes the user's sessions and revokes their refresh
// tokens in one call and leaves other users alone, unban, list-users pages.
#include "support/lifecycle_run.hpp"
#include "support/store_backends.hpp"
#include "support/test_cert.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>
#include <latchkey/transport/server/sqlite_store.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <utility>
#include <vector>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using latchkey::flows::server::hash_token;
using latchkey::flows::server::server_errc;
namespace records = latchkey::flows::server;

TEST_CASE("store: roles, bans revoke sessions and refresh tokens, unban, paged users",
          "[component][server][store][roles]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto opened = db.open();
    auto& st = *opened;
    constexpr std::int64_t t0 = 1'000'000, ttl = 7 * 86400;
    // Named values only around co_await (GCC 12 destroys some co_await temporaries twice).
    const std::string ha = hash_token("a"), hb = hash_token("b"), ra = hash_token("ra"), rb = hash_token("rb");
    const std::string u1 = "u1", u2 = "u2", nobody = "nobody", admin = "admin", reason = "spam";
    const std::vector<std::string> ids{"u1", "u2", "u3"};
    const std::vector<std::pair<std::string, std::string>> owned{{ha, u1}, {hb, u2}};
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        for (const auto& id : ids) {
            records::user_record rec{id, id + "@example.com", "h", t0 + (id[1] - '0')};
            auto e = co_await st.put_user(rec);
            REQUIRE_FALSE(e);
        }
        for (const auto& [hash, owner] : owned) {
            records::session_record s{hash, owner, "127.0.0.1", "ua", t0, t0, t0 + ttl};
            auto e = co_await st.put_session(s);
            REQUIRE_FALSE(e);
            records::refresh_record r{hash == ha ? ra : rb, "fam-" + owner, "cli", owner, "openid", t0 + ttl, 0, 0};
            e = co_await st.put_refresh(r);
            REQUIRE_FALSE(e);
        }
        auto e = co_await st.set_user_role(u1, admin);
        REQUIRE_FALSE(e);
        e = co_await st.set_user_role(nobody, admin);
        CHECK(e == server_errc::not_found);
        {
            auto used = co_await st.use_session(ha, t0 + 1, 86400, ttl);
            REQUIRE(used.has_value());
            CHECK(used->user.role == "admin");
            CHECK_FALSE(used->user.banned);
        }
        e = co_await st.ban_user(u2, reason, t0 + 3600, t0 + 5);
        REQUIRE_FALSE(e);
        {
            auto gone = co_await st.use_session(hb, t0 + 6, 86400, ttl);
            CHECK(gone.error() == server_errc::not_found);
            auto kept = co_await st.use_session(ha, t0 + 6, 86400, ttl);
            CHECK(kept.has_value());
            auto revoked = co_await st.find_refresh(rb);
            REQUIRE(revoked.has_value());
            CHECK(revoked->revoked_at == t0 + 5);
            auto live = co_await st.find_refresh(ra);
            REQUIRE(live.has_value());
            CHECK(live->revoked_at == 0);
            auto banned = co_await st.find_user_by_id(u2);
            REQUIRE(banned.has_value());
            CHECK(banned->banned);
            CHECK(banned->ban_reason == "spam");
            CHECK(banned->ban_expires == t0 + 3600);
            CHECK(banned->role == "user");
        }
        e = co_await st.ban_user(nobody, reason, 0, t0);
        CHECK(e == server_errc::not_found);
        e = co_await st.unban_user(u2);
        REQUIRE_FALSE(e);
        {
            auto back = co_await st.find_user_by_id(u2);
            REQUIRE(back.has_value());
            CHECK_FALSE(back->banned);
            CHECK(back->ban_reason.empty());
            CHECK(back->ban_expires == 0);
        }
        e = co_await st.delete_user_sessions(u1);
        REQUIRE_FALSE(e);
        {
            auto gone = co_await st.use_session(ha, t0 + 7, 86400, ttl);
            CHECK(gone.error() == server_errc::not_found);
        }
        auto page = co_await st.page_users(2, 0);
        REQUIRE(page.has_value());
        CHECK(page->total == 3);
        REQUIRE(page->users.size() == 2);
        CHECK(page->users[0].id == "u1");
        CHECK(page->users[1].id == "u2");
        page = co_await st.page_users(2, 2);
        REQUIRE(page.has_value());
        REQUIRE(page->users.size() == 1);
        CHECK(page->users[0].id == "u3");
        co_return true;
    }());
}

TEST_CASE("store: update_user replaces name, email and password hash; a taken user name changes nothing",
          "[component][server][store][roles]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto opened = db.open();
    auto& st = *opened;
    constexpr std::int64_t t0 = 1'000'000;
    const std::string u1 = "u1";
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        records::user_record ann{"u1", "ann", "h1", t0, "Ann", "ann@example.com"};
        records::user_record bob{"u2", "bob", "h2", t0 + 1, "Bob", "bob@example.com"};
        for (auto* u : {&ann, &bob}) {
            auto e = co_await st.put_user(*u);
            REQUIRE_FALSE(e);
        }
        records::user_record changed{"u1", "ann2", "h3", 0, "Ann B", "ann.b@example.com"};
        auto e = co_await st.update_user(changed);
        REQUIRE_FALSE(e);
        {
            auto found = co_await st.find_user_by_id(u1);
            REQUIRE(found.has_value());
            CHECK(found->username == "ann2");
            CHECK(found->name == "Ann B");
            CHECK(found->email == "ann.b@example.com");
            CHECK(found->password_hash == "h3");
            CHECK(found->created_at == t0);  // not replaced
        }
        records::user_record clash{"u1", "bob", "h4", 0, "X", "x@example.com"};
        e = co_await st.update_user(clash);
        CHECK(e == server_errc::already_exists);
        {
            auto kept = co_await st.find_user_by_id(u1);
            REQUIRE(kept.has_value());
            CHECK(kept->username == "ann2");
            CHECK(kept->password_hash == "h3");
        }
        records::user_record ghost{"nobody", "ghost", "h", 0};
        e = co_await st.update_user(ghost);
        CHECK(e == server_errc::not_found);
        co_return true;
    }());
    CHECK(db.scalar("SELECT COUNT(*) FROM users") == "2");
}
