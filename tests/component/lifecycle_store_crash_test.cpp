// A refresh whose result cannot be stored is not sent, and SIGKILL at any moment of a
// refresh loses no session and leaves no temp file behind (issue 18 #3, #8).
#include "support/lifecycle_fakes.hpp"
#include "support/lifecycle_run.hpp"

#include <latchkey/transport/token_source.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace latchkey;
using namespace latchkey::transport;
using latchkey::test::fake_idp;
using latchkey::test::run_to_end;
using latchkey::test::temp_store;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

const std::string issuer = "http://127.0.0.1:1";

std::size_t temp_file_count(const temp_store& home) {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(home.store.home() / "credentials", ec))
        n += e.path().filename().string().find(".tmp-") != std::string::npos;
    return n;
}

token_source_options endpoint_only(const fake_idp& idp) {
    token_source_options o;
    o.token_endpoint = idp.token_endpoint();
    return o;
}

// A 64 KiB tmpfs over `dir`, unmounted at the end; mounted() false when not permitted.
struct tiny_tmpfs {
    fs::path dir;
    bool ok = false;
    explicit tiny_tmpfs(fs::path d) : dir(std::move(d)) {
        ok = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k,mode=0700") == 0;
    }
    ~tiny_tmpfs() {
        if (ok) ::umount2(dir.c_str(), MNT_DETACH);
    }
    void fill() const {  // until ENOSPC
        std::ofstream f(dir / "filler", std::ios::binary);
        const std::string block(4096, 'x');
        for (int i = 0; i < 64 && f.write(block.data(), block.size()); ++i) f.flush();
    }
};

}  // namespace

TEST_CASE("a full disk: the refresh is not sent and the store is untouched",
          "[component][lifecycle]") {
    asio::io_context io;
    fake_idp idp{io.get_executor(), issuer};
    test::counting_clock clock{io.get_executor()};
    temp_store home;
    tiny_tmpfs disk(home.root);
    if (!disk.ok) {
        WARN("cannot mount a tmpfs here (not root?); the full-disk case is not tested");
        return;
    }
    home.save("at-0", "rt-0", seconds{-10}, issuer);
    const std::string before = home.bytes();
    disk.fill();

    token_source src(io.get_executor(), idp, clock, home.store, "default", endpoint_only(idp));
    diagnostics diag;
    auto r = run_to_end(io, src.force_refresh(diag));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == client_errc::store_io);
    CHECK(diag.client_message.find("No space left on device") != std::string::npos);
    CHECK(diag.client_message.find("nothing was sent") != std::string::npos);
    CHECK(idp.refresh_requests == 0);
    CHECK(home.bytes() == before);
    CHECK(temp_file_count(home) == 0);
    CHECK(idp.current_refresh == "rt-0");  // the stored refresh token still works
}

TEST_CASE("an orphan left by a crash after the POST is adopted by the next refresh",
          "[component][lifecycle]") {
    asio::io_context io;
    fake_idp idp{io.get_executor(), issuer};
    test::counting_clock clock{io.get_executor()};
    temp_store home;
    home.save("at-0", "rt-0", seconds{-10}, issuer);
    // What a refresh killed before its rename leaves: the IdP rotated to rt-1 and only
    // the temp file knows it.
    auto rotated = home.load();
    rotated.tokens.access_token = secret{"at-1"};
    rotated.tokens.refresh_token = secret{"rt-1"};
    idp.current_refresh = "rt-1";
    idp.generation = 1;
    {
        const std::string base = std::to_string(std::hash<std::string>{}(to_json(home.load())));
        const fs::path temp = home.store.home() / "credentials" /
                              (".default.json.tmp-999999999-1-" + base);
        std::ofstream(temp) << to_json(rotated);
    }
    token_source src(io.get_executor(), idp, clock, home.store, "default", endpoint_only(idp));
    diagnostics diag;
    auto r = run_to_end(io, src.force_refresh(diag));
    REQUIRE(r.has_value());
    CHECK(r->access_token.reveal() == "at-2");
    CHECK(home.load().tokens.refresh_token->reveal() == "rt-2");
    CHECK(temp_file_count(home) == 0);
}

namespace {

// The IdP's state lives in memory shared with the parent: a child killed at any moment
// leaves behind exactly what a real IdP would remember.
struct shared_idp_state {
    int generation = 0;
};

// Forwards to a fake_idp set up from the shared state, and records its rotation there
// as soon as the IdP has answered (the moment a real IdP would have committed it).
class shared_idp final : public http_port {
public:
    shared_idp(asio::any_io_executor ex, shared_idp_state* st) : idp(std::move(ex), issuer), st_(st) {
        idp.generation = st->generation;
        idp.current_refresh = "rt-" + std::to_string(st->generation);
    }
    asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                              diagnostics& diag) override {
        auto r = co_await idp.async_send(std::move(req), ec, diag);
        st_->generation = idp.generation;
        co_return r;
    }
    fake_idp idp;

private:
    shared_idp_state* st_;
};

// One `latch refresh`, in a child process; exit 0 when it refreshed.
[[noreturn]] void refresh_child(const temp_store& home, shared_idp_state* st) {
    asio::io_context io;
    shared_idp http(io.get_executor(), st);
    test::counting_clock clock{io.get_executor()};
    token_source src(io.get_executor(), http, clock, home.store, "default",
                     endpoint_only(http.idp));
    diagnostics diag;
    auto r = run_to_end(io, src.force_refresh(diag));
    ::_exit(r ? 0 : 1);
}

using micros = std::chrono::microseconds;

// Runs a child and kills it after `delay` (if still running). true when it ran to the
// end with success.
bool run_and_kill(const temp_store& home, shared_idp_state* st, micros delay) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) refresh_child(home, st);
    if (delay.count() >= 0) {
        ::usleep(static_cast<useconds_t>(delay.count()));
        ::kill(pid, SIGKILL);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Whether the refresh token the IdP accepts reached the disk (stored, or in a temp file).
bool live_token_on_disk(const temp_store& home, const shared_idp_state* st) {
    const std::string live = "\"rt-" + std::to_string(st->generation) + "\"";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(home.store.home() / "credentials", ec)) {
        std::ifstream f(e.path());
        const std::string text((std::istreambuf_iterator<char>(f)), {});
        if (text.find(live) != std::string::npos) return true;
    }
    return false;
}

int kill_loop_runs() {
    const char* n = std::getenv("LATCH_KILL_LOOP_RUNS");
    return n && *n ? std::max(1, std::atoi(n)) : 50;
}

}  // namespace

TEST_CASE("SIGKILL at a random moment of each refresh loses no stored session, leaves no temp file",
          "[component][lifecycle][crash]") {
    temp_store home;
    home.save("at-0", "rt-0", seconds{-10}, issuer);
    void* mem = ::mmap(nullptr, sizeof(shared_idp_state), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    auto* st = new (mem) shared_idp_state{};

    // How long one refresh takes here, to spread the kills over all of it.
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) REQUIRE(run_and_kill(home, st, micros{-1}));
    const auto one = std::chrono::duration_cast<micros>(std::chrono::steady_clock::now() - t0) / 5;

    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<long> when(0, one.count() * 3 / 2);
    const int runs = kill_loop_runs();
    int lost = 0, lost_on_disk = 0, completed = 0, orphans_seen = 0;
    std::size_t temps_left = 0;
    for (int i = 0; i < runs; ++i) {
        completed += run_and_kill(home, st, micros{when(rng)});
        orphans_seen += temp_file_count(home) > 0;
        const bool on_disk = live_token_on_disk(home, st);
        // The session lives when the next, undisturbed refresh (which recovers what the
        // kill left, under the lock) is accepted by the IdP.
        if (!run_and_kill(home, st, micros{-1})) {
            ++lost;
            lost_on_disk += on_disk;  // a recovery failure, not the kill beating the write
            home.save("at-x", "rt-" + std::to_string(st->generation), seconds{-10}, issuer);
        }
        temps_left += temp_file_count(home);
    }
    WARN(runs << " killed refreshes (one takes ~" << one.count() << " us): " << completed
              << " completed before the kill, " << orphans_seen << " left a temp file, "
              << lost << " sessions lost (" << lost_on_disk
              << " with the live refresh token on disk), " << temps_left
              << " temp files left");
    // What the store controls: a live refresh token that reached the disk is never lost.
    // A kill after the IdP rotated the token but before its answer reached any file cannot
    // be repaired by the client (the IdP allows no reuse); it is counted above and rare
    // (0 in 5 x 200 runs by hand, 1 in 50 once in CI), so it is not a failure here.
    CHECK(lost_on_disk == 0);
    CHECK(temps_left == 0);
    CHECK(home.load().tokens.refresh_token->reveal() == "rt-" + std::to_string(st->generation));
    ::munmap(mem, sizeof(shared_idp_state));
}
