// The cross-process lock: flock semantics, bounded non-blocking waits, holders in other
// processes (forked children), crashed holders, and token_source under a held lock.
#include "support/lifecycle_fakes.hpp"
#include "support/lifecycle_run.hpp"
#include "support/transport_helpers.hpp"

#include <latchkey/core/file_lock.hpp>
#include <latchkey/transport/async_lock.hpp>
#include <latchkey/transport/revoke.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace latchkey;
using namespace latchkey::transport;
using latchkey::test::run_to_end;
using latchkey::test::temp_store;
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

const std::string issuer = "http://127.0.0.1:1";

// A child process that takes the lock, reports it on a pipe and then waits to be killed.
struct lock_holder_process {
    pid_t pid = -1;
    explicit lock_holder_process(const std::filesystem::path& lock) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            diagnostics d;
            auto l = try_lock_file(lock, d);
            char ok = (l && *l) ? 'L' : 'E';
            (void)!::write(fds[1], &ok, 1);
            for (;;) ::pause();  // holds the lock until killed
        }
        ::close(fds[1]);
        char got = 0;
        REQUIRE(::read(fds[0], &got, 1) == 1);  // the child has the lock
        ::close(fds[0]);
        REQUIRE(got == 'L');
    }
    void kill_hard() {
        if (pid <= 0) return;
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        pid = -1;
    }
    ~lock_holder_process() { kill_hard(); }
};

struct lock_outcome {
    result<file_lock> lock = client_errc::cancelled;
    diagnostics diag;
    milliseconds took{0};
};

asio::awaitable<lock_outcome> async_lock(clock_port* clock, std::filesystem::path p,
                                         milliseconds bound) {
    lock_outcome o;
    auto start = std::chrono::steady_clock::now();
    o.lock = co_await async_acquire_lock(*clock, std::move(p), bound, o.diag);
    o.took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    co_return o;
}

struct get_outcome {
    result<secret> tok = client_errc::cancelled;
    diagnostics diag;
};

asio::awaitable<get_outcome> async_get(token_source* src) {
    get_outcome o;
    o.tok = co_await src->token(o.diag);
    co_return o;
}

}  // namespace

TEST_CASE("try_lock_file: 0600, exclusive per open file description, released by RAII",
          "[component][lifecycle]") {
    temp_store h;
    diagnostics d;
    REQUIRE_FALSE(h.store.ensure_dirs(d));
    const auto path = h.store.lock_path("default");
    auto first = try_lock_file(path, d);
    REQUIRE(first.has_value());
    REQUIRE(first->has_value());
    CHECK((*first)->owns_lock());
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    {
        auto second = try_lock_file(path, d);  // another open(): conflicts in one process
        REQUIRE(second.has_value());
        CHECK_FALSE(second->has_value());
    }
    file_lock moved = std::move(**first);
    CHECK_FALSE((*first)->owns_lock());
    moved.unlock();
    auto third = try_lock_file(path, d);
    REQUIRE(third.has_value());
    CHECK(third->has_value());
    CHECK(std::filesystem::exists(path));  // never deleted
}

TEST_CASE("try_lock_file in a missing directory is a store_io error naming the path",
          "[component][lifecycle]") {
    diagnostics d;
    auto r = try_lock_file("/nonexistent-latch-dir/x.lock", d);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == client_errc::store_io);
    CHECK(d.client_message.find("/nonexistent-latch-dir/x.lock") != std::string::npos);
}

TEST_CASE("a lock held by another process times out with a message naming the lock",
          "[component][lifecycle]") {
    temp_store h;
    diagnostics d;
    REQUIRE_FALSE(h.store.ensure_dirs(d));
    const auto path = h.store.lock_path("default");
    lock_holder_process child(path);
    asio::io_context io;
    test::counting_clock clock(io.get_executor());
    auto o = run_to_end(io, async_lock(&clock, path, milliseconds{200}));
    REQUIRE_FALSE(o.lock.has_value());
    CHECK(o.lock.error() == client_errc::lock_timeout);
    CHECK(o.diag.client_message == "timed out after 200 ms waiting for the lock " +
                                       path.string() + " (held by another latch process)");
    CHECK(o.took >= milliseconds{200});
    CHECK(o.took < milliseconds{2000});
    CHECK(clock.waits >= 3);  // it backed off on the timer and retried
}

TEST_CASE("a lock holder killed with SIGKILL does not block the next acquire",
          "[component][lifecycle]") {
    temp_store h;
    diagnostics d;
    REQUIRE_FALSE(h.store.ensure_dirs(d));
    const auto path = h.store.lock_path("default");
    lock_holder_process child(path);
    child.kill_hard();
    asio::io_context io;
    test::counting_clock clock(io.get_executor());
    auto o = run_to_end(io, async_lock(&clock, path, milliseconds{30'000}));
    REQUIRE(o.lock.has_value());
    CHECK(o.lock->owns_lock());
    CHECK(clock.waits == 0);  // free at the first attempt
}

TEST_CASE("waiting for the lock does not block the io_context", "[component][lifecycle]") {
    temp_store h;
    diagnostics d;
    REQUIRE_FALSE(h.store.ensure_dirs(d));
    const auto path = h.store.lock_path("default");
    auto held = try_lock_file(path, d);
    REQUIRE((held && held->has_value()));
    asio::io_context io;
    test::counting_clock clock(io.get_executor());
    // While the waiter backs off, another coroutine on the same thread runs and releases.
    file_lock* to_release = &**held;
    auto release_when_waiting = [&clock, to_release]() -> bool {
        if (clock.waits < 2) return false;
        to_release->unlock();
        return true;
    };
    asio::co_spawn(io, test::async_poll_until(release_when_waiting, milliseconds{5000}),
                   asio::detached);
    auto o = run_to_end(io, async_lock(&clock, path, milliseconds{5000}));
    REQUIRE(o.lock.has_value());
    CHECK(o.took < milliseconds{2000});
}

TEST_CASE("token() under a lock held past lock_wait: lock_timeout, store untouched",
          "[component][lifecycle]") {
    asio::io_context io;
    test::fake_idp idp(io.get_executor(), issuer);
    test::counting_clock clock(io.get_executor());
    temp_store h;
    h.save("at-0", "rt-0", seconds{-5}, issuer);
    const auto before = h.bytes();
    diagnostics d;
    auto held = try_lock_file(h.store.lock_path("default"), d);  // another open file description
    REQUIRE((held && held->has_value()));
    token_source_options o;
    o.token_endpoint = idp.token_endpoint();
    o.lock_wait = milliseconds{200};
    token_source src(io.get_executor(), idp, clock, h.store, "default", o);
    auto r = run_to_end(io, async_get(&src));
    REQUIRE_FALSE(r.tok);
    CHECK(r.tok.error() == client_errc::lock_timeout);
    CHECK(r.diag.client_message.find(h.store.lock_path("default").string()) != std::string::npos);
    CHECK(r.diag.client_message.find("timed out after 200 ms") != std::string::npos);
    CHECK(idp.refresh_requests == 0);
    CHECK(h.bytes() == before);
}

TEST_CASE("token() adopts what another holder stored under the lock, without a request",
          "[component][lifecycle]") {
    asio::io_context io;
    test::fake_idp idp(io.get_executor(), issuer);
    test::counting_clock clock(io.get_executor());
    temp_store h;
    h.save("at-0", "rt-0", seconds{-5}, issuer);
    diagnostics d;
    auto held = try_lock_file(h.store.lock_path("default"), d);
    REQUIRE((held && held->has_value()));
    token_source_options o;
    o.token_endpoint = idp.token_endpoint();
    token_source src(io.get_executor(), idp, clock, h.store, "default", o);
    // The "other process": once token() is backing off on the lock, it stores a refreshed
    // set and releases.
    temp_store* home = &h;
    file_lock* lock = &**held;
    auto refresh_elsewhere = [&clock, home, lock]() -> bool {
        if (clock.waits < 1) return false;
        home->save("at-other", "rt-other", seconds{3600}, issuer);
        lock->unlock();
        return true;
    };
    asio::co_spawn(io, test::async_poll_until(refresh_elsewhere, milliseconds{5000}),
                   asio::detached);
    auto r = run_to_end(io, async_get(&src));
    REQUIRE(r.tok);
    CHECK(r.tok->reveal() == "at-other");
    CHECK(idp.refresh_requests == 0);
    CHECK(src.adopted_count() == 1);
    CHECK(h.load().tokens.refresh_token->reveal() == "rt-other");
}

TEST_CASE("async_revoke follows RFC 7009", "[component][lifecycle]") {
    asio::io_context io;
    test::fake_idp idp(io.get_executor(), issuer);
    struct revoke_outcome {
        error_code ec;
        diagnostics diag;
    };
    auto revoke = [&](std::string endpoint) {
        revoke_outcome out;
        out.ec = run_to_end(io, async_revoke(idp, std::move(endpoint), secret{"rt-0"},
                                             "refresh_token", "latch-cli", out.diag));
        return out;
    };
    auto ok = revoke(issuer + "/revoke");
    CHECK_FALSE(ok.ec);
    REQUIRE(idp.requests.size() == 1);
    CHECK(idp.requests[0].body == "token=rt-0&token_type_hint=refresh_token&client_id=latch-cli");
    CHECK(idp.requests[0].idempotent);
    auto missing = revoke("");
    CHECK(missing.ec == client_errc::endpoint_missing);
    auto bad = revoke(issuer + "/elsewhere");  // the fake answers 404 invalid_request
    CHECK(bad.ec == oauth_errc::invalid_request);
    CHECK(idp.revoke_requests == 1);
}

TEST_CASE("describe_duration", "[component][lifecycle]") {
    CHECK(describe_duration(milliseconds{30'000}) == "30 s");
    CHECK(describe_duration(milliseconds{200}) == "200 ms");
    CHECK(describe_duration(milliseconds{1500}) == "1.5 s");
}
