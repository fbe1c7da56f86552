// Waiting for a file lock without blocking the io_context.
//
// try_lock_file (core) is tried at once and then again on a timer with a jittered
// exponential backoff (5 ms, doubling, capped at 200 ms, each delay ±25 %), until the lock
// is ours or `max_wait` has passed. The jitter keeps many processes started together from
// retrying in lockstep. Nothing here blocks: other coroutines on the io_context keep
// running while we wait.
#pragma once

#include <latchkey/core/file_lock.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>

namespace latchkey::transport {

inline constexpr std::chrono::milliseconds default_lock_wait{30'000};

// Acquires the advisory lock on `path` (created 0600 if missing; its directory must exist).
//   ok                        the lock, held until the file_lock is destroyed or unlock()ed
//   client_errc::lock_timeout nobody released it within max_wait; diag.client_message is
//     "timed out after 30 s waiting for the lock <path> (held by another latch process)"
//   client_errc::store_io     the file cannot be opened or locked (message names the path)
//   client_errc::cancelled    the wait was cancelled
// Waits use `clock` (so tests can use a virtual clock). Cancellation: whatever the clock
// port's wait supports (terminal for real_clock). `clock` and `diag` must outlive the
// co_await; `path` is copied.
boost::asio::awaitable<result<file_lock>> async_acquire_lock(
    clock_port& clock, std::filesystem::path path,
    std::chrono::milliseconds max_wait, diagnostics& diag);

// The same on the real clock of `ex`.
boost::asio::awaitable<result<file_lock>> async_acquire_lock(
    boost::asio::any_io_executor ex, std::filesystem::path path,
    std::chrono::milliseconds max_wait, diagnostics& diag);

// "30 s", "1.5 s", "200 ms": how durations appear in lock messages.
std::string describe_duration(std::chrono::milliseconds d);

}  // namespace latchkey::transport
