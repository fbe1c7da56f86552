// latch-idp's store contract against both adapters (support/store_backends.hpp): a SQLite
// file in a temp dir and a fresh PostgreSQL database: records, the single-use steps under
// concurrency (two stores on one database, as two replicas), durability settings.
#include "support/lifecycle_run.hpp"
#include "support/store_backends.hpp"
#include "support/test_cert.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>
#include <latchkey/transport/server/sqlite_store.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <sys/stat.h>

#include <map>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using latchkey::flows::server::server_errc;
using latchkey::flows::server::hash_token;

namespace {

std::unique_ptr<store> open_store(const std::filesystem::path& dir) {
    diagnostics diag;
    auto s = open_sqlite_store((dir / "idp.db").string(), diag);
    INFO(diag.client_message);
    REQUIRE(s.has_value());
    return std::move(*s);
}

std::string pragma(const std::filesystem::path& db, const char* sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, sql, -1, &s, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
}

records::client_record service_client() {
    records::client_record c;
    c.client_id = "svc";
    c.name = "service";
    c.auth_method = "client_secret_basic";
    c.secret_hash = hash_token("s3cret");
    c.redirect_uris = {"http://127.0.0.1/cb", "https://app.example.com/cb"};
    c.grant_types = {"client_credentials", "authorization_code"};
    c.scope = "openid api";
    c.created_at = 1000;
    return c;
}

}  // namespace

TEST_CASE("store: clients round-trip, duplicates and deletes are reported", "[component][server][store]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto st = db.open();
    auto r = test::run_to_end(io, [&]() -> asio::awaitable<std::map<std::string, error_code>> {
        std::map<std::string, error_code> out;
        auto aw1 = co_await st->put_client(service_client());
        out["put"] = aw1;
        auto aw2 = co_await st->put_client(service_client());
        out["dup"] = aw2;
        auto found = co_await st->find_client("svc");
        REQUIRE(found.has_value());
        CHECK(found->redirect_uris == service_client().redirect_uris);
        CHECK(found->grant_types == service_client().grant_types);
        CHECK(found->secret_hash == hash_token("s3cret"));
        auto aw3 = co_await st->list_clients();
        CHECK(aw3->size() == 1);
        auto aw4 = co_await st->delete_client("svc");
        out["del"] = aw4;
        auto aw5 = co_await st->delete_client("svc");
        out["del2"] = aw5;
        auto aw6 = co_await st->find_client("svc");
        out["find"] = aw6.error();
        co_return out;
    }());
    CHECK_FALSE(r["put"]);
    CHECK(r["dup"] == server_errc::already_exists);
    CHECK_FALSE(r["del"]);
    CHECK(r["del2"] == server_errc::not_found);
    CHECK(r["find"] == server_errc::not_found);
}

TEST_CASE("SQLite store: the file is private, in WAL mode, migrated once", "[component][server][store]") {
    test::temp_dir dir;
    { auto st = open_store(dir.path()); }
    { auto again = open_store(dir.path()); }  // re-opening applies nothing twice
    const auto db = dir.path() / "idp.db";
    struct stat sb {};
    REQUIRE(::stat(db.c_str(), &sb) == 0);
    CHECK((sb.st_mode & 0777) == 0600);
    CHECK(pragma(db, "PRAGMA journal_mode") == "wal");
    // Every migration applied once, numbered 1..N without gaps.
    CHECK(pragma(db, "SELECT COUNT(*) = MAX(version) AND MIN(version) = 1 FROM schema_migrations") == "1");
    CHECK(pragma(db, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("SQLite store: a database a newer latch-idp migrated is refused, untouched",
          "[component][server][store]") {
    test::temp_dir dir;
    { auto st = open_store(dir.path()); }
    const auto db = dir.path() / "idp.db";
    const std::string newest = pragma(db, "SELECT MAX(version) FROM schema_migrations");
    const int future = std::stoi(newest) + 1;
    {
        sqlite3* h = nullptr;
        REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
        const std::string sql = "INSERT INTO schema_migrations (version, applied_at) VALUES (" +
                                std::to_string(future) + ", 0)";
        REQUIRE(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(h);
    }
    diagnostics diag;
    auto again = open_sqlite_store(db.string(), diag);
    CHECK_FALSE(again.has_value());
    CHECK(diag.client_message == "the database was written by a newer latch-idp (schema " +
                                     std::to_string(future) + ", this one knows up to " + newest + ")");
    CHECK(pragma(db, "SELECT MAX(version) FROM schema_migrations") == std::to_string(future));
}

TEST_CASE("store: 32 concurrent redemptions of one code, exactly one wins", "[component][server][store]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    // Two stores on one database, as two processes (replicas) would have.
    auto a = db.open();
    auto b = db.open();
    records::code_record code;
    code.code_hash = hash_token("the-code");
    code.grant_id = "grant-1";
    code.client_id = "svc";
    code.user_id = "u1";
    code.expires_at = 2000;
    records::refresh_record issued{hash_token("rt-1"), "grant-1", "svc", "u1", "openid", 9000, 0, 0};
    test::run_to_end(io, [&]() -> asio::awaitable<int> {
        auto aw7 = co_await a->put_code(code);
        REQUIRE_FALSE(aw7);
        auto aw8 = co_await a->put_refresh(issued);
        REQUIRE_FALSE(aw8);
        co_return 0;
    }());

    std::map<consume_status, int> outcomes;
    for (int i = 0; i < 32; ++i) {
        store& s = i % 2 ? *a : *b;
        asio::co_spawn(io, [&s, &outcomes, h = code.code_hash]() -> asio::awaitable<void> {
            auto r = co_await s.consume_code(h, 1500);
            REQUIRE(r.has_value());
            ++outcomes[r->status];
        }, asio::detached);
    }
    io.restart();
    io.run();
    CHECK(outcomes[consume_status::consumed] == 1);
    CHECK(outcomes[consume_status::replayed] == 31);

    // The replay revoked what the code issued; unknown and expired codes are told apart.
    auto after = test::run_to_end(io, [&]() -> asio::awaitable<std::vector<consume_status>> {
        records::refresh_record next{hash_token("rt-2"), "", "svc", "", "", 9000, 0, 0};
        auto rot = co_await a->rotate_refresh(hash_token("rt-1"), next, 1600);
        auto unknown = co_await a->consume_code(hash_token("nope"), 1600);
        records::code_record old = code;
        old.code_hash = hash_token("old-code");
        auto aw9 = co_await a->put_code(old);
        REQUIRE_FALSE(aw9);
        auto expired = co_await a->consume_code(old.code_hash, 2500);
        co_return std::vector<consume_status>{rot->status, unknown->status, expired->status};
    }());
    CHECK(after == std::vector<consume_status>{consume_status::expired, consume_status::unknown, consume_status::expired});
}

TEST_CASE("store: 32 concurrent rotations of one refresh token, one wins, the family is revoked",
          "[component][server][store]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto a = db.open();
    auto b = db.open();
    records::refresh_record rt{hash_token("rt-0"), "fam", "svc", "u1", "openid", 9000, 0, 0};
    test::run_to_end(io, [&]() -> asio::awaitable<int> {
        auto aw10 = co_await a->put_refresh(rt);
        REQUIRE_FALSE(aw10);
        co_return 0;
    }());
    std::map<consume_status, int> outcomes;
    std::string winner;
    for (int i = 0; i < 32; ++i) {
        store& s = i % 2 ? *a : *b;
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
            records::refresh_record next{hash_token("rt-next-" + std::to_string(i)), "", "svc", "", "", 9000, 0, 0};
            auto r = co_await s.rotate_refresh(rt.token_hash, next, 100);
            REQUIRE(r.has_value());
            ++outcomes[r->status];
            if (r->status == consume_status::consumed) winner = next.token_hash;
        }, asio::detached);
    }
    io.restart();
    io.run();
    CHECK(outcomes[consume_status::consumed] == 1);
    CHECK(outcomes[consume_status::replayed] == 31);
    // The winner's new token was revoked with its family by the replays.
    auto last = test::run_to_end(io, [&]() -> asio::awaitable<consume_status> {
        records::refresh_record next{hash_token("rt-after"), "", "svc", "", "", 9000, 0, 0};
        auto aw11 = co_await a->rotate_refresh(winner, next, 200);
        co_return aw11->status;
    }());
    CHECK(last == consume_status::expired);
    // Another client cannot rotate someone else's token: unknown, nothing revoked.
    records::refresh_record other{hash_token("rt-x"), "fam2", "svc", "u1", "openid", 9000, 0, 0};
    auto stolen = test::run_to_end(io, [&]() -> asio::awaitable<consume_status> {
        auto aw12 = co_await a->put_refresh(other);
        REQUIRE_FALSE(aw12);
        records::refresh_record next{hash_token("rt-y"), "", "attacker", "", "", 9000, 0, 0};
        auto aw13 = co_await a->rotate_refresh(other.token_hash, next, 300);
        co_return aw13->status;
    }());
    CHECK(stolen == consume_status::unknown);
}

TEST_CASE("store: device codes: answered once, redeemed once by 32 pollers, slow_down persisted",
          "[component][server][store][device]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto a = db.open();
    auto b = db.open();
    records::device_record d;
    d.device_code_hash = hash_token("dc");
    d.user_code = "BCDFGHJKLMNP";
    d.client_id = "cli";
    d.scope = "openid";
    d.created_at = 1000;
    d.expires_at = 1600;
    d.interval = 5;
    auto setup = test::run_to_end(io, [&]() -> asio::awaitable<std::vector<error_code>> {
        std::vector<error_code> out;
        auto aw14 = co_await a->put_device(d, 10);
        out.push_back(aw14);
        auto dup = d;
        dup.device_code_hash = hash_token("dc2");
        auto aw15 = co_await a->put_device(dup, 10);
        out.push_back(aw15);  // same user code
        auto full = d;
        full.device_code_hash = hash_token("dc3");
        full.user_code = "ZZZZZZZZZZZZ";
        auto aw16 = co_await a->put_device(full, 1);
        out.push_back(aw16);  // one pending already
        // slow_down is written: a second store (another connection) sees the grown interval.
        auto p1 = co_await a->poll_device(d.device_code_hash, "cli", 1005);
        auto p2 = co_await b->poll_device(d.device_code_hash, "cli", 1007);
        CHECK(p1->outcome == flows::server::device_poll_outcome::authorization_pending);
        CHECK(p2->outcome == flows::server::device_poll_outcome::slow_down);
        auto p3 = co_await a->poll_device(d.device_code_hash, "cli", 1012);
        CHECK(p3->outcome == flows::server::device_poll_outcome::slow_down);  // stored 10 s, only 5 s passed
        CHECK(p3->updated.interval == 15);
        auto aw17 = co_await a->find_pending_device(d.user_code, 1010);
        CHECK(aw17.has_value());
        auto aw18 = co_await a->answer_device(d.user_code, "u1", true, 1010);
        CHECK(aw18.has_value());
        auto aw19 = co_await b->answer_device(d.user_code, "u2", true, 1011);
        out.push_back(aw19.error());  // already answered
        auto aw20 = co_await a->find_pending_device(d.user_code, 1012);
        out.push_back(aw20.error());
        co_return out;
    }());
    CHECK_FALSE(setup[0]);
    CHECK(setup[1] == server_errc::already_exists);
    CHECK(setup[2] == server_errc::busy);
    CHECK(setup[3] == server_errc::not_found);
    CHECK(setup[4] == server_errc::not_found);

    std::map<flows::server::device_poll_outcome, int> outcomes;
    std::string user;
    for (int i = 0; i < 32; ++i) {
        store& s = i % 2 ? *a : *b;
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            auto r = co_await s.poll_device(d.device_code_hash, "cli", 1100);
            REQUIRE(r.has_value());
            ++outcomes[r->outcome];
            if (r->outcome == flows::server::device_poll_outcome::issue) user = r->updated.user_id;
        }, asio::detached);
    }
    io.restart();
    io.run();
    CHECK(outcomes[flows::server::device_poll_outcome::issue] == 1);
    CHECK(user == "u1");
    CHECK(outcomes[flows::server::device_poll_outcome::invalid_grant] + outcomes[flows::server::device_poll_outcome::slow_down] == 31);
}

TEST_CASE("store: revoking a refresh token revokes its family, only for its own client",
          "[component][server][store]") {
    const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
    INFO("backend: " << backend);
    test::temp_dir dir;
    const test::store_db db(backend, dir.path());
    if (!db.available()) return;
    asio::io_context io;
    auto st = db.open();
    auto r = test::run_to_end(io, [&]() -> asio::awaitable<std::vector<int>> {
        records::refresh_record a{hash_token("a"), "fam", "cli", "u1", "openid", 9000, 0, 0};
        records::refresh_record b{hash_token("b"), "fam", "cli", "u1", "openid", 9000, 0, 0};
        auto put_a = co_await st->put_refresh(a);
        auto put_b = co_await st->put_refresh(b);
        REQUIRE_FALSE(put_a);
        REQUIRE_FALSE(put_b);
        auto other_client = co_await st->revoke_refresh(hash_token("a"), "evil", 100);
        auto unknown = co_await st->revoke_refresh(hash_token("zzz"), "cli", 100);
        auto own = co_await st->revoke_refresh(hash_token("a"), "cli", 100);
        records::refresh_record next{hash_token("c"), "", "cli", "", "", 9000, 0, 0};
        auto rotate_b = co_await st->rotate_refresh(hash_token("b"), next, 200);
        co_return std::vector<int>{*other_client, *unknown, *own, static_cast<int>(rotate_b->status)};
    }());
    CHECK(r == std::vector<int>{0, 0, 1, static_cast<int>(consume_status::expired)});
}
