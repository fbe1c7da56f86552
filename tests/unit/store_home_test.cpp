// Issue 18 #6: $LATCH_HOME is not trusted blindly. Directories are created 0700 whatever
// the umask, an existing directory is never chmod'ed (a symlink to /tmp kept losing its
// sticky bit), and a home or credentials directory that another user owns or can write
// is refused with the fix in the message, as OpenSSH's StrictModes does.
#include <latchkey/core/machine_store.hpp>
#include <latchkey/core/store.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace latchkey;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        char tmpl[] = "/tmp/latch-home-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

struct umask_guard {
    mode_t old;
    explicit umask_guard(mode_t m) : old(::umask(m)) {}
    ~umask_guard() { ::umask(old); }
};

unsigned mode_of(const fs::path& p) {
    struct stat st{};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

stored_credentials sample() {
    stored_credentials c;
    c.issuer = "https://idp.example";
    c.tokens.access_token = secret{"access-token-0123456789"};
    return c;
}

}  // namespace

TEST_CASE("home: under umask 000 every directory latch creates is 0700",
          "[unit][hardening][store]") {
    temp_dir t;
    umask_guard u(0);
    credential_store s{t.path / "a" / "b" / "home"};
    diagnostics d;
    REQUIRE_FALSE(s.save(sample(), d));
    for (const auto& p : {t.path / "a", t.path / "a" / "b", s.home(), s.home() / "credentials"}) {
        INFO(p);
        CHECK(mode_of(p) == 0700);
    }
    umask_guard strict(0777);  // and a umask that would leave us locked out
    credential_store s2{t.path / "c" / "home"};
    REQUIRE_FALSE(s2.save(sample(), d));
    CHECK(mode_of(t.path / "c") == 0700);
    CHECK(mode_of(s2.home() / "credentials") == 0700);
}

TEST_CASE("home: a symlink to a world-writable sticky directory is refused, its mode kept",
          "[unit][hardening][store]") {
    temp_dir t;
    const fs::path shared = t.path / "shared-tmp";
    fs::create_directory(shared);
    ::chmod(shared.c_str(), 01777);
    fs::create_directory_symlink(shared, t.path / "home");
    credential_store s{t.path / "home"};
    diagnostics d;
    auto ec = s.save(sample(), d);
    CHECK(ec == client_errc::store_io);
    CHECK(d.client_message.find("mode 1777") != std::string::npos);
    CHECK(d.client_message.find("chmod go-w") != std::string::npos);
    CHECK(mode_of(shared) == 01777);  // the sticky bit survives: latch chmods nothing it did not create
    CHECK_FALSE(fs::exists(shared / "credentials"));
}

TEST_CASE("home: a 0777 home is refused for reading too (a planted token is never used)",
          "[unit][hardening][store]") {
    temp_dir t;
    credential_store s{t.path / "home"};
    diagnostics d;
    REQUIRE_FALSE(s.save(sample(), d));
    ::chmod(s.home().c_str(), 0777);
    auto loaded = s.load("default", d);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error() == client_errc::store_io);
    CHECK(d.client_message.find("chmod go-w " + s.home().string()) != std::string::npos);
    CHECK_FALSE(s.load_config(d).has_value());
    CHECK(mode_of(s.home()) == 0777);  // reported, not silently changed
    CHECK(s.save(sample(), d) == client_errc::store_io);

    ::chmod(s.home().c_str(), 0700);  // the fix the message gives works
    ::chmod((s.home() / "credentials").c_str(), 0770);
    CHECK_FALSE(s.load("default", d).has_value());
    ::chmod((s.home() / "credentials").c_str(), 0700);
    auto ok = s.load("default", d);
    REQUIRE(ok.has_value());
    CHECK(*ok);
    CHECK(machine_store{s.home()}.list(d).has_value());
}

TEST_CASE("home: an existing 0755 home of ours is used as is", "[unit][hardening][store]") {
    temp_dir t;
    fs::create_directory(t.path / "home");
    ::chmod((t.path / "home").c_str(), 0755);
    credential_store s{t.path / "home"};
    diagnostics d;
    REQUIRE_FALSE(s.save(sample(), d));
    CHECK(mode_of(s.home()) == 0755);  // not writable by others: fine, and never chmod'ed
    CHECK(mode_of(s.home() / "credentials") == 0700);
}

TEST_CASE("home: a home owned by another user is refused", "[unit][hardening][store]") {
    if (::geteuid() != 0) return;  // only root can give a directory away
    temp_dir t;
    fs::create_directory(t.path / "home");
    REQUIRE(::chown((t.path / "home").c_str(), 65534, 65534) == 0);
    ::chmod((t.path / "home").c_str(), 0700);
    credential_store s{t.path / "home"};
    diagnostics d;
    auto loaded = s.load("default", d);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(d.client_message.find("owned by uid 65534, not by you") != std::string::npos);
    CHECK(s.save(sample(), d) == client_errc::store_io);
    machine_store m{s.home()};
    CHECK_FALSE(m.list(d).has_value());
}
