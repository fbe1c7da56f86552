// Refresh tokens of `storage keyring` contexts (core/src/store_keyring.cpp) when no Secret
// Service answers: the token is never dropped. (With a real keyring: tests/e2e/keyring.test.mjs.)
#include <latchkey/core/store.hpp>

#include "core/src/store_keyring.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace latchkey;
namespace fs = std::filesystem;

namespace {

// A home whose context "k" is configured for the keyring, and a session bus that is not
// there (restored on destruction).
struct keyring_home {
    fs::path root;
    fs::path home;
    std::string saved_bus;
    bool had_bus = false;
    keyring_home() {
        char tmpl[] = "/tmp/latch-keyring-XXXXXX";
        root = ::mkdtemp(tmpl);
        home = root / "home";
        if (const char* b = std::getenv("DBUS_SESSION_BUS_ADDRESS")) { had_bus = true; saved_bus = b; }
        ::setenv("DBUS_SESSION_BUS_ADDRESS", ("unix:path=" + (root / "no-bus").string()).c_str(), 1);
        config_file cfg;
        cfg.contexts["k"] = context_config{"https://idp.example", "latch-cli", {}, {{"storage", "keyring"}}};
        diagnostics d;
        REQUIRE_FALSE(credential_store{home}.save_config(cfg, d));
    }
    ~keyring_home() {
        if (had_bus) ::setenv("DBUS_SESSION_BUS_ADDRESS", saved_bus.c_str(), 1);
        else ::unsetenv("DBUS_SESSION_BUS_ADDRESS");
        std::error_code ec;
        fs::remove_all(root, ec);
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

stored_credentials record(std::string context) {
    stored_credentials c;
    c.context = std::move(context);
    c.issuer = "https://idp.example";
    c.client_id = "latch-cli";
    c.tokens.access_token = secret{"access-token-0123456789"};
    c.tokens.refresh_token = secret{"refresh-token-0123456789"};
    return c;
}

}  // namespace

TEST_CASE("keyring context without a Secret Service: the refresh token stays in the file", "[unit][store][keyring]") {
    keyring_home h;
    credential_store s{h.home};
    diagnostics d;
    REQUIRE(detail::keyring_configured(h.home, "k"));
    REQUIRE_FALSE(detail::keyring_configured(h.home, "other"));
    REQUIRE_FALSE(s.save(record("k"), d));
    const auto text = slurp(s.credentials_path("k"));
    CHECK(text.find("refresh-token-0123456789") != std::string::npos);
    CHECK_FALSE(detail::refresh_token_in_keyring(text));
    auto back = s.load("k", d);
    REQUIRE(back.has_value());
    REQUIRE(back->has_value());
    REQUIRE((*back)->tokens.refresh_token);
    CHECK((*back)->tokens.refresh_token->reveal() == "refresh-token-0123456789");

    SECTION("and so does a rotated one saved through prepare_save") {
        auto next = **back;
        next.tokens.refresh_token = secret{"refresh-token-rotated"};
        auto p = s.prepare_save(**back, d);
        REQUIRE(p.has_value());
        REQUIRE_FALSE(p->commit(next, d));
        CHECK(slurp(s.credentials_path("k")).find("refresh-token-rotated") != std::string::npos);
    }
}

TEST_CASE("a record whose refresh token is in an unreachable keyring loads without one", "[unit][store][keyring]") {
    keyring_home h;
    credential_store s{h.home};
    diagnostics d;
    auto c = record("k");
    c.tokens.refresh_token.reset();
    REQUIRE_FALSE(s.save(c, d));
    // What a save into a working keyring writes:
    auto text = slurp(s.credentials_path("k"));
    const auto at = text.find("\"access_token\"");
    REQUIRE(at != std::string::npos);
    text.insert(at, "\"refresh_token_in\":\"keyring\",");
    REQUIRE_FALSE(write_file_atomic(s.credentials_path("k"), text, 0600, d));
    REQUIRE(detail::refresh_token_in_keyring(text));
    auto back = s.load("k", d);
    REQUIRE(back.has_value());
    REQUIRE(back->has_value());
    CHECK((*back)->tokens.access_token.reveal() == "access-token-0123456789");
    CHECK_FALSE((*back)->tokens.refresh_token);
}

TEST_CASE("only tokens.refresh_token_in = keyring marks a record", "[unit][store][keyring]") {
    CHECK(detail::refresh_token_in_keyring(R"({"tokens":{"refresh_token_in":"keyring"}})"));
    CHECK_FALSE(detail::refresh_token_in_keyring(R"({"tokens":{"refresh_token_in":"file"}})"));
    CHECK_FALSE(detail::refresh_token_in_keyring(R"({"refresh_token_in":"keyring","tokens":{}})"));
    CHECK_FALSE(detail::refresh_token_in_keyring(R"({"tokens":{"access_token":"refresh_token_in"}})"));
    CHECK_FALSE(detail::refresh_token_in_keyring("not json refresh_token_in"));
}
