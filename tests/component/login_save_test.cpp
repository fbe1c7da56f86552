// transport::async_save_login: credentials and config.json written under the locks,
// config.json re-read under its lock (another writer's contexts survive), a held lock
// waited for on the (virtual) clock.
#include "support/fakes.hpp"
#include "support/lifecycle_run.hpp"
#include "support/test_cert.hpp"

#include <latchkey/core/file_lock.hpp>
#include <latchkey/transport/async_lock.hpp>
#include <latchkey/transport/login.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
namespace asio = boost::asio;

namespace {

const time_point t0 = sys_clock::from_time_t(1'790'000'000);

struct rig {
    test::temp_dir dir;
    credential_store store{dir.path() / "home"};
    asio::io_context io;
    test::fake_clock clock{io.get_executor(), t0};
    client_config client;
    transport::login_result login;

    rig() {
        client.issuer = "https://idp.example";
        client.client_id = "latch-cli";
        client.scopes = {"openid", "offline_access"};
        login.method = login_method::device;
        login.obtained_at = t0;
        login.tokens.access_token = secret{"access-1"};
        login.who.subject = "alice";
    }
    result<transport::saved_login> save(std::string ctx, diagnostics& diag,
                                        transport::save_options o = {}) {
        return test::run_to_end(io, transport::async_save_login(store, clock, ctx, client, login,
                                                                std::move(o), diag));
    }
};

}  // namespace

TEST_CASE("save: credentials and the remembered client; the first context is current", "[component][login][save]") {
    rig r;
    diagnostics diag;
    transport::save_options o;
    o.extra["machine"] = "true";
    auto saved = r.save("work", diag, o);
    REQUIRE(saved.has_value());
    auto creds = r.store.load("work", diag);
    REQUIRE(creds.has_value());
    REQUIRE(creds->has_value());
    CHECK((*creds)->who.subject == "alice");
    CHECK((*creds)->method == login_method::device);
    auto cfg = r.store.load_config(diag);
    REQUIRE(cfg.has_value());
    CHECK(cfg->current_context == "work");
    CHECK(cfg->contexts.at("work").client_id == "latch-cli");
    CHECK(cfg->contexts.at("work").scopes == r.client.scopes);
    CHECK(cfg->contexts.at("work").extra.at("machine") == "true");
    CHECK(saved->context.issuer == "https://idp.example");
}

TEST_CASE("save: config.json is re-read under its lock; another writer's context survives", "[component][login][save]") {
    rig r;
    diagnostics diag;
    REQUIRE(r.save("first", diag).has_value());
    // Another process adds a context while this login runs.
    auto cfg = r.store.load_config(diag);
    REQUIRE(cfg.has_value());
    cfg->contexts["other"].issuer = "https://other.example";
    REQUIRE_FALSE(r.store.save_config(*cfg, diag));
    transport::save_options keep;
    keep.remember_scopes = false;
    REQUIRE(r.save("second", diag, keep).has_value());
    auto after = r.store.load_config(diag);
    REQUIRE(after.has_value());
    CHECK(after->contexts.count("other") == 1);
    CHECK(after->contexts.count("first") == 1);
    CHECK(after->contexts.at("second").scopes.empty());
    CHECK(after->current_context == "first");  // not the only context: unchanged
}

TEST_CASE("save: waits for the context's lock, then writes", "[component][login][save]") {
    rig r;
    diagnostics diag;
    REQUIRE_FALSE(r.store.ensure_dirs(diag));
    auto held = try_lock_file(r.store.lock_path("work"), diag);
    REQUIRE(held.has_value());
    REQUIRE(held->has_value());
    int waits = 0;
    r.clock.on_wait = [&](time_point) {
        if (++waits == 3) held->reset();  // the refresh holding it finishes
    };
    auto saved = r.save("work", diag);
    REQUIRE(saved.has_value());
    CHECK(waits >= 3);
    auto creds = r.store.load("work", diag);
    REQUIRE(creds.has_value());
    CHECK(creds->has_value());
}

TEST_CASE("save: a lock never released times out and writes nothing", "[component][login][save]") {
    rig r;
    diagnostics diag;
    REQUIRE_FALSE(r.store.ensure_dirs(diag));
    auto held = try_lock_file(r.store.lock_path("work"), diag);
    REQUIRE(held.has_value());
    REQUIRE(held->has_value());
    auto saved = r.save("work", diag);
    REQUIRE_FALSE(saved.has_value());
    CHECK(saved.error() == client_errc::lock_timeout);
    auto creds = r.store.load("work", diag);
    REQUIRE(creds.has_value());
    CHECK_FALSE(creds->has_value());
    auto cfg = r.store.load_config(diag);
    REQUIRE(cfg.has_value());
    CHECK(cfg->contexts.empty());
}
