// Credential store: saves reserved before a refresh, crash recovery, temp files removed by
// logout (issue 18 #3, #8).
#include <latchkey/core/store.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace latchkey;
namespace fs = std::filesystem;

namespace {

struct temp_home {
    fs::path path;
    temp_home() {
        char tmpl[] = "/tmp/latch-pending-XXXXXX";
        path = ::mkdtemp(tmpl);
        path /= "home";
    }
    ~temp_home() { std::error_code ec; fs::remove_all(path.parent_path(), ec); }
};

stored_credentials record(const std::string& refresh) {
    stored_credentials c;
    c.issuer = "https://idp.example";
    c.client_id = "latch-cli";
    c.obtained_at = time_point{} + std::chrono::seconds{1'700'000'000};
    c.who.subject = "alice";
    c.tokens.access_token = secret{"at-for-" + refresh};
    c.tokens.refresh_token = secret{refresh};
    return c;
}

std::vector<std::string> temp_files(const credential_store& s) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(s.home() / "credentials"))
        if (e.path().filename().string().find(".tmp-") != std::string::npos)
            out.push_back(e.path().filename().string());
    return out;
}

std::string stored_refresh(const credential_store& s) {
    diagnostics d;
    auto c = s.load("default", d);
    REQUIRE(c.has_value());
    REQUIRE(c->has_value());
    return (*c)->tokens.refresh_token->reveal();
}

// A child that reserves a save and commits `refresh` but dies right before the rename:
// what SIGKILL after the refresh POST leaves behind.
void crash_before_rename(const credential_store& s, const std::string& refresh) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        detail::before_rename_hook = [](const fs::path&) { ::_exit(42); };
        diagnostics d;
        auto p = s.prepare_save(record("rt-0"), d);
        if (p) (void)p->commit(record(refresh), d);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 42);
}

}  // namespace

TEST_CASE("a reserved save commits atomically, 0600, and leaves no temp file",
          "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(record("rt-0"), d));
    auto p = s.prepare_save(record("rt-0"), d);
    REQUIRE(p.has_value());
    CHECK(temp_files(s).size() == 1);
    CHECK(stored_refresh(s) == "rt-0");  // nothing changes before commit
    REQUIRE_FALSE(p->commit(record("rt-1"), d));
    CHECK(stored_refresh(s) == "rt-1");
    CHECK(temp_files(s).empty());
    struct stat st{};
    REQUIRE(::stat(s.credentials_path("default").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("a reserved save dropped without commit removes its temp file", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(record("rt-0"), d));
    {
        auto p = s.prepare_save(record("rt-0"), d);
        REQUIRE(p.has_value());
        CHECK(fs::file_size(p->temp_path()) > 4096);  // the space is reserved
    }
    CHECK(temp_files(s).empty());
    CHECK(stored_refresh(s) == "rt-0");
}

TEST_CASE("recover adopts the newer record a crash left in a temp file", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(record("rt-0"), d));
    crash_before_rename(s, "rt-1");
    REQUIRE(temp_files(s).size() == 1);
    CHECK(stored_refresh(s) == "rt-0");

    auto adopted = s.recover("default", d);
    REQUIRE(adopted.has_value());
    CHECK(*adopted);
    CHECK(stored_refresh(s) == "rt-1");
    CHECK(temp_files(s).empty());
}

TEST_CASE("recover adopts a record written over the padding before the truncate",
          "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(record("rt-0"), d));
    const std::string base = std::to_string(std::hash<std::string>{}(to_json(record("rt-0"))));
    const fs::path temp = s.home() / "credentials" / (".default.json.tmp-999999999-7-" + base);
    std::ofstream(temp) << to_json(record("rt-1")) << std::string(5000, ' ');
    ::chmod(temp.c_str(), 0600);
    auto adopted = s.recover("default", d);
    REQUIRE(adopted.has_value());
    CHECK(*adopted);
    CHECK(stored_refresh(s) == "rt-1");
}

TEST_CASE("recover removes stale, partial and foreign-session temp files", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(record("rt-0"), d));
    crash_before_rename(s, "rt-old");                 // older than the save below
    REQUIRE_FALSE(s.save(record("rt-2"), d));
    const fs::path dir = s.home() / "credentials";
    std::ofstream(dir / ".default.json.tmp-999999998-1") << std::string(6000, ' ');  // padding only
    std::ofstream(dir / ".default.json.tmp-999999997-2") << "{\"version\":1,\"acc";  // cut short
    auto bob = record("rt-bob");
    bob.who.subject = "bob";
    std::ofstream(dir / ".default.json.tmp-999999996-3") << to_json(bob);
    std::ofstream(dir / ".other.json.tmp-999999995-4") << "x";   // another context's
    REQUIRE(temp_files(s).size() == 5);

    auto adopted = s.recover("default", d);
    REQUIRE(adopted.has_value());
    CHECK_FALSE(*adopted);
    CHECK(stored_refresh(s) == "rt-2");
    CHECK(temp_files(s) == std::vector<std::string>{".other.json.tmp-999999995-4"});
}

TEST_CASE("recover leaves the temp file of another live process alone", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(record("rt-0"), d));
    std::ofstream(s.home() / "credentials" / ".default.json.tmp-1-5") << "{}";  // pid 1 lives
    auto adopted = s.recover("default", d);
    REQUIRE(adopted.has_value());
    CHECK_FALSE(*adopted);
    CHECK(temp_files(s).size() == 1);
}

TEST_CASE("logout (remove) removes the context's temp files", "[unit][store]") {
    temp_home h;
    credential_store s{h.path};
    diagnostics d;
    REQUIRE_FALSE(s.save(record("rt-0"), d));
    crash_before_rename(s, "rt-1");
    std::ofstream(s.home() / "credentials" / ".default.json.tmp-1-5") << "{}";
    REQUIRE(temp_files(s).size() == 2);
    auto removed = s.remove("default", d);
    REQUIRE(removed.has_value());
    CHECK(*removed);
    CHECK(temp_files(s).empty());
    CHECK_FALSE(fs::exists(s.credentials_path("default")));
}
