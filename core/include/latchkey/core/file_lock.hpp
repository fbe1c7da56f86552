// A non-blocking advisory file lock (flock(2)) for cross-process single-flight refresh.
//
// Semantics that the token lifecycle relies on:
// * The lock belongs to the open file description: it is released when the holder calls
//   unlock(), destroys the file_lock, or dies in any way (exit, crash, SIGKILL) — the kernel
//   closes its descriptors. A crashed holder therefore never blocks anybody.
// * Two open()s of the same path in ONE process are two open file descriptions and DO
//   conflict, so two token_sources of one process exclude each other too.
// * try_lock_file never waits: it answers "locked" or "busy" at once. Waiting with a bound
//   and a backoff is transport's job (latchkey/transport/async_lock.hpp), on an Asio timer,
//   never blocking an io_context.
// * The lock file is created (0600) and never deleted: deleting a lock file while another
//   process has it open lets two holders lock two different inodes.
// * flock works on local file systems; on NFS it may be emulated with POSIX locks or be a
//   no-op, depending on the mount. Keep LATCH_HOME local.
#pragma once

#include <latchkey/core/error.hpp>

#include <filesystem>
#include <optional>

namespace latchkey {

class file_lock {
public:
    file_lock() = default;  // holds nothing
    file_lock(file_lock&& o) noexcept;
    file_lock& operator=(file_lock&& o) noexcept;
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    ~file_lock();

    bool owns_lock() const noexcept { return fd_ >= 0; }
    const std::filesystem::path& path() const noexcept { return path_; }
    // Releases the lock now (also done by the destructor). Idempotent.
    void unlock() noexcept;

private:
    friend result<std::optional<file_lock>> try_lock_file(const std::filesystem::path&,
                                                          diagnostics&);
    file_lock(int fd, std::filesystem::path p) : fd_(fd), path_(std::move(p)) {}

    int fd_ = -1;
    std::filesystem::path path_;
};

// One attempt: open(path, O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW, 0600) + flock(LOCK_EX|LOCK_NB).
//   locked            -> a file_lock that owns the lock
//   held by another   -> an empty optional (EWOULDBLOCK)
//   cannot open/lock  -> client_errc::store_io, with a message naming the path
// The directory must exist. Never blocks.
result<std::optional<file_lock>> try_lock_file(const std::filesystem::path& path,
                                               diagnostics& diag);

}  // namespace latchkey
