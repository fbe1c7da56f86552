// Credential store: modes, atomic replace, corrupt files left untouched.
#include <latchkey/core/store.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace latchkey;
namespace fs = std::filesystem;

namespace {

struct temp_home {
    fs::path path;
    temp_home() {
        char tmpl[] = "/tmp/latch-store-XXXXXX";
        path = ::mkdtemp(tmpl);
        path /= "home";  // not yet created: the store creates it
    }
    ~temp_home() { std::error_code ec; fs::remove_all(path.parent_path(), ec); }
};

unsigned mode_of(const fs::path& p) {
    struct stat st{};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

stored_credentials sample(std::string access = "access-token-0123456789abcdef") {
    stored_credentials c;
    c.issuer = "https://idp.example";
    c.client_id = "latch-cli";
    c.method = login_method::device;
    c.obtained_at = sys_clock::from_time_t(1'790'000'000);
    c.who.subject = "alice";
    c.who.email = "alice@example.com";
    c.tokens.access_token = secret{std::move(access)};
    c.tokens.refresh_token = secret{"refresh-token-0123456789"};
    c.tokens.scope = "openid offline_access";
    c.tokens.expires_at = sys_clock::from_time_t(1'790'003'600);
    return c;
}

}  // namespace

TEST_CASE("store creates 0700 directories and 0600 files", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(sample(), d));
    CHECK(mode_of(h.path) == 0700);
    CHECK(mode_of(h.path / "credentials") == 0700);
    CHECK(mode_of(s.credentials_path("default")) == 0600);

    config_file cfg;
    cfg.contexts["default"] = context_config{"https://idp.example", "latch-cli", {"openid"}, {}};
    REQUIRE_FALSE(s.save_config(cfg, d));
    CHECK(mode_of(s.config_path()) == 0600);
}

TEST_CASE("store round-trips credentials and config", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(sample(), d));
    auto loaded = s.load("default", d);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->has_value());
    const auto& c = **loaded;
    CHECK(c.issuer == "https://idp.example");
    CHECK(c.tokens.access_token.reveal() == "access-token-0123456789abcdef");
    CHECK(c.tokens.refresh_token->reveal() == "refresh-token-0123456789");
    CHECK(c.tokens.expires_at == sys_clock::from_time_t(1'790'003'600));
    CHECK(c.who.email == "alice@example.com");
    CHECK_FALSE(c.expired);

    const auto text = slurp(s.credentials_path("default"));
    CHECK(text.find("\"version\":1") != std::string::npos);
    CHECK(text.find("\"status\":\"active\"") != std::string::npos);

    config_file cfg;
    cfg.current_context = "work";
    cfg.contexts["work"] = context_config{"https://idp.example", "cli", {"openid", "email"}, {{"gateway", "https://gw"}}};
    REQUIRE_FALSE(s.save_config(cfg, d));
    auto back = s.load_config(d);
    REQUIRE(back.has_value());
    CHECK(back->current_context == "work");
    CHECK(back->contexts.at("work").scopes == std::vector<std::string>{"openid", "email"});
    CHECK(back->contexts.at("work").extra.at("gateway") == "https://gw");
}

TEST_CASE("nothing stored is not an error", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    auto loaded = s.load("default", d);
    REQUIRE(loaded.has_value());
    CHECK_FALSE(loaded->has_value());
    auto removed = s.remove("default", d);
    REQUIRE(removed.has_value());
    CHECK_FALSE(*removed);
}

TEST_CASE("a corrupt file gives a clear error and is left untouched", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.ensure_dirs(d));
    const auto path = s.credentials_path("default");
    for (const char* junk : {"{not json", "[]", "{\"version\":99,\"tokens\":{}}", "{\"version\":1}", ""}) {
        { std::ofstream f(path); f << junk; }
        d.clear();
        auto loaded = s.load("default", d);
        REQUIRE_FALSE(loaded.has_value());
        CHECK(loaded.error() == client_errc::store_corrupt);
        CHECK(d.client_message.find(path.string()) != std::string::npos);
        CHECK(d.client_message.find("left untouched") != std::string::npos);
        CHECK(slurp(path) == junk);
    }
}

TEST_CASE("a login sets an unparsable credentials file aside, never over it (issue 18 #13)",
          "[unit][store][hardening]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.ensure_dirs(d));
    const auto now = sys_clock::from_time_t(1'790'000'000);  // 2026-09-21T14:13:20Z
    auto none = s.set_aside_corrupt("default", now, d);  // nothing stored: nothing to do
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());

    const auto path = s.credentials_path("default");
    { std::ofstream f(path); f << "{not json"; }
    auto first = s.set_aside_corrupt("default", now, d);
    REQUIRE(first.has_value());
    REQUIRE(first->has_value());
    const fs::path kept = path.string() + ".corrupt-20260921T141320Z";
    CHECK((*first)->kept_as == kept);
    CHECK(slurp(kept) == "{not json");
    CHECK_FALSE(fs::exists(path));
    CHECK((*first)->notice.rfind(path.string() + ": ", 0) == 0);
    CHECK((*first)->notice.find("; it was kept as " + kept.string()) != std::string::npos);
    CHECK((*first)->notice.find("left untouched") == std::string::npos);

    // The same second again: an earlier copy is never replaced.
    { std::ofstream f(path); f << "[]"; }
    auto second = s.set_aside_corrupt("default", now, d);
    REQUIRE(second.has_value());
    REQUIRE(second->has_value());
    CHECK((*second)->kept_as == fs::path(kept.string() + "-1"));
    CHECK(slurp(kept) == "{not json");
    CHECK(slurp((*second)->kept_as) == "[]");

    // A good file stays where it is.
    REQUIRE_FALSE(s.save([] { auto c = sample(); c.context = "default"; return c; }(), d));
    auto good = s.set_aside_corrupt("default", now, d);
    REQUIRE(good.has_value());
    CHECK_FALSE(good->has_value());
    CHECK(fs::exists(path));
}

TEST_CASE("an unreadable file is a store_io error", "[unit][store]") {
    if (::geteuid() == 0) {
        // root reads anything; check a directory in place of the file instead
        temp_home h;
        credential_store s{h.path};
        diagnostics d;
        fs::create_directories(s.credentials_path("default"));
        auto loaded = s.load("default", d);
        REQUIRE_FALSE(loaded.has_value());
        CHECK(loaded.error() == client_errc::store_io);
        return;
    }
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(sample(), d));
    ::chmod(s.credentials_path("default").c_str(), 0);
    auto loaded = s.load("default", d);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error() == client_errc::store_io);
}

TEST_CASE("a crash between write and rename leaves the old file intact", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(sample("old-access-token-0123456789"), d));
    const auto before = slurp(s.credentials_path("default"));

    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child dies right after the new content is durable in the temp file.
        detail::before_rename_hook = [](const fs::path&) { ::_exit(42); };
        diagnostics cd;
        (void)s.save(sample("new-access-token-0123456789"), cd);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 42);

    CHECK(slurp(s.credentials_path("default")) == before);
    auto loaded = s.load("default", d);
    REQUIRE(loaded.has_value());
    CHECK((*loaded)->tokens.access_token.reveal() == "old-access-token-0123456789");
}

TEST_CASE("context names are safe file names", "[unit][store]") {
    CHECK(valid_context_name("default"));
    CHECK(valid_context_name("gke-prod_2.eu"));
    CHECK_FALSE(valid_context_name(""));
    CHECK_FALSE(valid_context_name("../x"));
    CHECK_FALSE(valid_context_name(".hidden"));
    CHECK_FALSE(valid_context_name("a/b"));
    CHECK_FALSE(valid_context_name(std::string(65, 'a')));
}
