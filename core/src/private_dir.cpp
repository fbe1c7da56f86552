// Credential directories: created umask-proof, trusted only when private (private_dir.hpp).
#include "private_dir.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace latchkey::detail {
namespace fs = std::filesystem;

namespace {

error_code dir_error(diagnostics& diag, std::string message) {
    diag.client_message = std::move(message);
    return client_errc::store_io;
}

error_code sys_error(diagnostics& diag, const char* what, const fs::path& p, int err) {
    return dir_error(diag, std::string(what) + " " + p.string() + ": " + std::strerror(err));
}

std::string octal(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// mkdir 0700, then fchmod 0700 through a descriptor of the directory just made (never by
// path: a path could be swapped for a symlink in between).
error_code make_one(const fs::path& dir, bool& created, diagnostics& diag) {
    created = false;
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST) return {};
        return sys_error(diag, "cannot create directory", dir, errno);
    }
    created = true;
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return sys_error(diag, "cannot open", dir, errno);
    const int rc = ::fchmod(fd, 0700), err = errno;
    ::close(fd);
    if (rc != 0) return sys_error(diag, "cannot chmod", dir, err);
    return {};
}

}  // namespace

error_code make_private_dirs(const fs::path& dir, diagnostics& diag) {
    fs::path partial;
    for (const auto& part : dir) {
        partial /= part;
        if (partial == partial.root_path()) continue;
        bool created = false;
        if (auto ec = make_one(partial, created, diag)) return ec;
    }
    return check_private_dir(dir, diag);
}

error_code check_private_dir(const fs::path& dir, diagnostics& diag) {
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT) return {};
        return sys_error(diag, "cannot stat", dir, errno);
    }
    if (!S_ISDIR(st.st_mode)) return dir_error(diag, dir.string() + " exists and is not a directory");
    const uid_t me = ::geteuid();
    if (st.st_uid != me)
        return dir_error(diag, dir.string() + " is owned by uid " + std::to_string(st.st_uid) +
                                   ", not by you (uid " + std::to_string(me) +
                                   "): its owner could plant or read credentials; point LATCH_HOME "
                                   "at a directory of your own");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return dir_error(diag, dir.string() + " has mode " + octal(st.st_mode) +
                                   ": other users can change what is in it, so latch does not "
                                   "trust it; run `chmod go-w " + dir.string() +
                                   "` (or point LATCH_HOME at a private directory)");
    return {};
}

}  // namespace latchkey::detail
