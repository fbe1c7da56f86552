// flock(2)-based advisory lock; see file_lock.hpp for the semantics.
#include <latchkey/core/file_lock.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace latchkey {

file_lock::file_lock(file_lock&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) {
    o.fd_ = -1;
}

file_lock& file_lock::operator=(file_lock&& o) noexcept {
    if (this != &o) {
        unlock();
        fd_ = o.fd_;
        path_ = std::move(o.path_);
        o.fd_ = -1;
    }
    return *this;
}

file_lock::~file_lock() { unlock(); }

void file_lock::unlock() noexcept {
    if (fd_ < 0) return;
    // Closing the last descriptor of the open file description releases the flock; the
    // explicit LOCK_UN also covers a descriptor inherited by a child despite O_CLOEXEC.
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
}

result<std::optional<file_lock>> try_lock_file(const std::filesystem::path& path,
                                               diagnostics& diag) {
    int fd;
    do {
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        diag.client_message = "cannot open the lock file " + path.string() + ": " +
                              std::strerror(errno);
        return client_errc::store_io;
    }
    int rc;
    do {
        rc = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK) return std::optional<file_lock>{};
        diag.client_message = "cannot lock " + path.string() + ": " + std::strerror(err);
        return client_errc::store_io;
    }
    return std::optional<file_lock>{file_lock{fd, path}};
}

}  // namespace latchkey
