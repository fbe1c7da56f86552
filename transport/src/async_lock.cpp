// Bounded, non-blocking wait for a file lock; see async_lock.hpp.
#include <latchkey/transport/async_lock.hpp>
#include <latchkey/transport/http_client.hpp>  // real_clock

#include <algorithm>
#include <random>

namespace latchkey::transport {
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds first_delay{5};
constexpr milliseconds max_delay{200};

// ±25 % jitter; each thread has its own generator, seeded once.
milliseconds jittered(milliseconds d) {
    thread_local std::minstd_rand gen{std::random_device{}()};
    std::uniform_int_distribution<long> dist(-d.count() / 4, d.count() / 4);
    return std::max(milliseconds{1}, d + milliseconds{dist(gen)});
}

}  // namespace

std::string describe_duration(milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
    if (d.count() < 1000) return std::to_string(d.count()) + " ms";
    auto tenths = (d.count() + 50) / 100;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

asio::awaitable<result<file_lock>> async_acquire_lock(clock_port& clock,
                                                      std::filesystem::path path,
                                                      milliseconds max_wait,
                                                      diagnostics& diag) {
    const time_point deadline = clock.now() + max_wait;
    milliseconds delay = first_delay;
    for (;;) {
        auto attempt = try_lock_file(path, diag);
        if (!attempt) co_return attempt.error();
        if (*attempt) co_return std::move(**attempt);

        const time_point now = clock.now();
        if (now >= deadline) {
            diag.client_message = "timed out after " + describe_duration(max_wait) +
                                  " waiting for the lock " + path.string() +
                                  " (held by another latch process)";
            co_return client_errc::lock_timeout;
        }
        // Never sleep past the deadline: the last attempt happens right at it.
        const time_point wake = std::min<time_point>(now + jittered(delay), deadline);
        if (auto ec = co_await clock.async_wait_until(wake)) {
            diag.client_message = "cancelled while waiting for the lock " + path.string();
            co_return client_errc::cancelled;
        }
        delay = std::min(delay * 2, max_delay);
    }
}

asio::awaitable<result<file_lock>> async_acquire_lock(asio::any_io_executor ex,
                                                      std::filesystem::path path,
                                                      milliseconds max_wait,
                                                      diagnostics& diag) {
    real_clock clock(std::move(ex));
    co_return co_await async_acquire_lock(clock, std::move(path), max_wait, diag);
}

}  // namespace latchkey::transport
