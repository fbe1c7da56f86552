// Directories that hold credentials: created 0700 whatever the umask, and trusted only
// when they are ours and nobody else can change them (as OpenSSH's StrictModes does).
// Not installed, not part of the API.
#pragma once

#include <latchkey/core/error.hpp>

#include <filesystem>

namespace latchkey::detail {

// Creates `dir` and each missing parent with mode 0700, set explicitly (a umask of 000
// or 077 changes nothing). A directory that already exists is never chmod'ed: it may be
// someone else's (LATCH_HOME=/tmp). Then check_private_dir(dir).
error_code make_private_dirs(const std::filesystem::path& dir, diagnostics& diag);

// An existing `dir` (symlinks followed: the directory actually used counts) must be a
// directory owned by us and not writable by group or others; else client_errc::store_io
// with a message saying how to fix it. A missing `dir` passes (nothing in it to trust).
error_code check_private_dir(const std::filesystem::path& dir, diagnostics& diag);

}  // namespace latchkey::detail
