// latch-idp social login (migration 9) on both adapters (support/store_backends.hpp): providers added, replaced by name, listed and
// removed; an account linked with a new user in one transaction, found again by (provider,
// upstream sub) with its user; a second link of the same account or a taken user name writes
// nothing; users found by email (or by a user name that is the email), the oldest first.
#include "support/lifecycle_run.hpp"
#include "support/store_backends.hpp"
#include "support/test_cert.hpp"

#include <latchkey/flows/server/server_error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using latchkey::flows::server::server_errc;
namespace records = latchkey::flows::server;

TEST_CASE("store: social providers and linked accounts", "[component][server][store][social]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto opened = db.open();
    auto& st = *opened;
    constexpr std::int64_t t0 = 1'000'000;
    // Named values only around co_await (GCC 12 destroys some co_await temporaries twice).
    const std::string google = "google", sub = "g-123", other_sub = "g-456", nobody = "nobody";
    const std::string mail = "ann@example.com", missing = "zed@example.com";
    test::run_to_end(io, [&]() -> asio::awaitable<bool> {
        records::social_provider_record p{"google", "https://accounts.example", "cid", "sealed", "openid email", t0};
        auto e = co_await st.put_social_provider(p);
        REQUIRE_FALSE(e);
        p.client_id = "cid2";
        e = co_await st.put_social_provider(p);  // replaced by name
        REQUIRE_FALSE(e);
        records::social_provider_record q{"alpha", "https://a.example", "a", "", "openid", t0};
        e = co_await st.put_social_provider(q);
        REQUIRE_FALSE(e);
        {
            auto all = co_await st.list_social_providers();
            REQUIRE(all.has_value());
            REQUIRE(all->size() == 2);
            CHECK((*all)[0].name == "alpha");
            CHECK((*all)[1].client_id == "cid2");
            CHECK((*all)[1].created_at == t0);
        }
        e = co_await st.delete_social_provider(nobody);
        CHECK(e == server_errc::not_found);

        // Users by email: the oldest of two with that address; a user name that is the address.
        records::user_record older{"u1", "ann", "h", t0 + 1, "Ann", mail};
        records::user_record newer{"u2", "ann2", "h", t0 + 2, "Ann 2", mail};
        records::user_record by_name{"u3", "bob@example.com", "h", t0 + 3};
        for (auto* u : {&newer, &older, &by_name}) {
            auto put = co_await st.put_user(*u);
            REQUIRE_FALSE(put);
        }
        {
            auto found = co_await st.find_user_by_email(mail);
            REQUIRE(found.has_value());
            CHECK(found->id == "u1");
            const std::string bob = "bob@example.com";
            auto named = co_await st.find_user_by_email(bob);
            REQUIRE(named.has_value());
            CHECK(named->id == "u3");
            auto none = co_await st.find_user_by_email(missing);
            CHECK(none.error() == server_errc::not_found);
        }

        // A new user and its account in one transaction.
        records::account_record a{"a1", "u9", "google", "g-123", "https://accounts.example", t0};
        std::optional<records::user_record> fresh = records::user_record{"u9", "google:g-123", "", t0, "New", ""};
        e = co_await st.link_account(a, fresh);
        REQUIRE_FALSE(e);
        {
            auto found = co_await st.find_account(google, sub);
            REQUIRE(found.has_value());
            CHECK(found->account.user_id == "u9");
            CHECK(found->account.issuer == "https://accounts.example");
            CHECK(found->user.username == "google:g-123");
        }
        // The same upstream account again (a concurrent callback): refused, no second user.
        records::account_record again{"a2", "u10", "google", "g-123", "https://accounts.example", t0};
        std::optional<records::user_record> twin = records::user_record{"u10", "google:twin", "", t0};
        e = co_await st.link_account(again, twin);
        CHECK(e == server_errc::already_exists);
        {
            const std::string u10 = "u10";
            auto gone = co_await st.find_user_by_id(u10);
            CHECK(gone.error() == server_errc::not_found);
        }
        // A taken user name: nothing written, not even the account.
        records::account_record taken{"a3", "u11", "google", "g-456", "https://accounts.example", t0};
        std::optional<records::user_record> clash = records::user_record{"u11", "ann", "", t0};
        e = co_await st.link_account(taken, clash);
        CHECK(e == server_errc::already_exists);
        {
            auto none = co_await st.find_account(google, other_sub);
            CHECK(none.error() == server_errc::not_found);
        }
        // Linking an existing user; removing the user removes the account.
        std::optional<records::user_record> no_user;
        e = co_await st.link_account(taken, no_user);
        CHECK(e == server_errc::already_exists);  // u11 does not exist: the foreign key refuses
        records::account_record to_ann{"a4", "u1", "google", "g-456", "https://accounts.example", t0};
        e = co_await st.link_account(to_ann, no_user);
        REQUIRE_FALSE(e);
        const std::string ann = "ann";
        e = co_await st.delete_user(ann);
        REQUIRE_FALSE(e);
        {
            auto none = co_await st.find_account(google, other_sub);
            CHECK(none.error() == server_errc::not_found);
        }
        e = co_await st.delete_social_provider(google);
        CHECK_FALSE(e);
        co_return true;
    }());
}

namespace {

asio::awaitable<void> link_once(store& st, int i, int& linked, int& refused) {
    const std::string id = "u" + std::to_string(100 + i);
    records::account_record a{"a" + std::to_string(i), id, "google", "g-race", "https://accounts.example", 1};
    std::optional<records::user_record> user = records::user_record{id, "google:race-" + std::to_string(i), "", 1};
    auto e = co_await st.link_account(a, user);
    if (!e) ++linked;
    else if (e == server_errc::already_exists) ++refused;
}

}  // namespace

TEST_CASE("store: 16 concurrent first sign-ins of one upstream account from two stores link one user",
          "[component][server][store][social]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto a = db.open();
    auto b = db.open();
    int linked = 0, refused = 0;
    for (int i = 0; i < 16; ++i) asio::co_spawn(io, link_once(i % 2 ? *b : *a, i, linked, refused), asio::detached);
    io.run();
    CHECK(linked == 1);
    CHECK(refused == 15);
    CHECK(db.scalar("SELECT COUNT(*) FROM users") == "1");
    CHECK(db.scalar("SELECT COUNT(*) FROM account") == "1");
}
