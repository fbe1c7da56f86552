// File helpers shared by the credential store's sources (store.cpp, store_pending.cpp).
// Not installed, not part of the API.
#pragma once

#include <latchkey/core/error.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::detail {

// Sets diag.client_message to "<what> <path>: <strerror>" and returns store_io.
error_code store_io_error(diagnostics& diag, const std::string& what,
                          const std::filesystem::path& p, int err);

struct fd_guard {
    int fd = -1;
    fd_guard() = default;
    explicit fd_guard(int f) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard();
};

// write(2) until done; EINTR retried. The errno as an error_code on failure.
error_code write_all(int fd, std::string_view data);
// Reads a whole small file (at most 1 MiB, else store_corrupt). ENOENT -> nullopt.
result<std::optional<std::string>> read_small_file(const std::filesystem::path& p,
                                                   diagnostics& diag);
// fsync(2) of a directory, so a rename or unlink in it survives a power cut. Best effort.
void sync_dir(const std::filesystem::path& dir);
// ".<file>.tmp-<pid>-<random>" next to `target`: the name every store temp file has.
std::filesystem::path temp_name_for(const std::filesystem::path& target);

}  // namespace latchkey::detail

namespace latchkey::detail {

// The temp files of `target` in its directory (names as temp_name_for makes them).
// With orphans_only, those whose pid is another live process are left out.
std::vector<std::filesystem::path> temp_files_of(const std::filesystem::path& target,
                                                 bool orphans_only);
// Unlinks every temp file of `target` (best effort), then syncs the directory.
void remove_temp_files(const std::filesystem::path& target);

}  // namespace latchkey::detail
