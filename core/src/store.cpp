// Credential store file I/O. Small, local and synchronous by design (STYLE.md "No blocking
// on the io_context"): what may wait unboundedly (a lock held by another process) is
// handled elsewhere with non-blocking primitives.
#include <latchkey/core/store.hpp>

#include "private_dir.hpp"
#include "store_io.hpp"
#include "store_keyring.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace latchkey {
namespace fs = std::filesystem;

namespace detail {
void (*before_rename_hook)(const fs::path&) = nullptr;

constexpr std::size_t max_file_size = 1 << 20;

error_code store_io_error(diagnostics& diag, const std::string& what, const fs::path& p,
                          int err) {
    diag.client_message = what + " " + p.string() + ": " + std::strerror(err);
    return client_errc::store_io;
}

fd_guard::~fd_guard() {
    if (fd >= 0) ::close(fd);
}

error_code write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return error_code(errno, boost::system::system_category());
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

result<std::optional<std::string>> read_small_file(const fs::path& p, diagnostics& diag) {
    fd_guard f{::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
    if (f.fd < 0) {
        if (errno == ENOENT) return std::optional<std::string>{};
        return store_io_error(diag, "cannot read", p, errno);
    }
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(f.fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return store_io_error(diag, "cannot read", p, errno);
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max_file_size) {
            diag.client_message = p.string() + " is larger than 1 MiB; refusing to read it";
            return client_errc::store_corrupt;
        }
    }
    return std::optional<std::string>{std::move(out)};
}

void sync_dir(const fs::path& dir) {
    fd_guard d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd >= 0) ::fsync(d.fd);
}

fs::path temp_name_for(const fs::path& target) {
    const fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    std::random_device rd;
    return dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) +
                  "-" + std::to_string(rd()));
}

}  // namespace detail

using detail::fd_guard;
using detail::read_small_file;
using detail::write_all;

namespace {
error_code io_error(diagnostics& diag, const std::string& what, const fs::path& p, int err) {
    return detail::store_io_error(diag, what, p, err);
}
}  // namespace

bool valid_context_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || name.front() == '.') return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            return false;
    return true;
}

std::string invalid_context_message(std::string_view name) {
    return "invalid context name '" + escape_untrusted(name, 80) +
           "': use letters, digits, '-', '_' and '.', at most 64 characters";
}

error_code write_file_atomic(const fs::path& path, std::string_view content, unsigned mode,
                             diagnostics& diag) {
    const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    const fs::path tmp = detail::temp_name_for(path);
    fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)};
    if (f.fd < 0) return io_error(diag, "cannot create", tmp, errno);
    auto fail = [&](const char* what, int err) {
        auto ec = io_error(diag, what, tmp, err);
        ::unlink(tmp.c_str());
        return ec;
    };
    if (::fchmod(f.fd, mode) != 0) return fail("cannot chmod", errno);  // umask may widen/narrow
    if (auto ec = write_all(f.fd, content)) return fail("cannot write", ec.value());
    if (::fsync(f.fd) != 0) return fail("cannot fsync", errno);
    ::close(f.fd);
    f.fd = -1;
    if (detail::before_rename_hook) detail::before_rename_hook(tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename into place", errno);
    detail::sync_dir(dir);  // so the rename itself survives a power cut
    return {};
}

result<fs::path> credential_store::default_home(diagnostics& diag) {
    if (const char* h = std::getenv("LATCH_HOME"); h && *h) return fs::path(h);
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return fs::path(x) / "latch";
    if (const char* home = std::getenv("HOME"); home && *home)
        return fs::path(home) / ".config" / "latch";
    diag.client_message = "cannot find a home for credentials: set LATCH_HOME or HOME";
    return client_errc::config_missing;
}

fs::path credential_store::credentials_path(std::string_view context) const {
    return home_ / "credentials" / (std::string(context) + ".json");
}
fs::path credential_store::lock_path(std::string_view context) const {
    return home_ / "credentials" / (std::string(context) + ".lock");
}

error_code credential_store::ensure_dirs(diagnostics& diag) const {
    if (auto ec = detail::make_private_dirs(home_, diag)) return ec;
    return detail::make_private_dirs(home_ / "credentials", diag);
}

// Before anything is read from the home: a token planted by whoever else can write there
// must never be printed by `latch token` (issue 18 #6).
error_code credential_store::check_dirs(diagnostics& diag) const {
    if (auto ec = detail::check_private_dir(home_, diag)) return ec;
    return detail::check_private_dir(home_ / "credentials", diag);
}

result<std::optional<stored_credentials>> credential_store::load(std::string_view context,
                                                                 diagnostics& diag) const {
    const auto path = credentials_path(context);
    if (auto ec = check_dirs(diag)) return ec;
    auto text = read_small_file(path, diag);
    if (!text) return text.error();
    if (!*text) return std::optional<stored_credentials>{};
    auto c = credentials_from_json(**text, diag);
    if (!c) {
        diag.client_message = path.string() + ": " + diag.client_message +
                              "; it was left untouched (fix it, or remove it and log in again)";
        return c.error();
    }
    c->context = std::string(context);
    if (detail::refresh_token_in_keyring(**text)) detail::attach_refresh_token(home_, *c);
    return std::optional<stored_credentials>{std::move(*c)};
}

error_code credential_store::save(const stored_credentials& creds, diagnostics& diag) const {
    if (!valid_context_name(creds.context)) {
        diag.client_message = invalid_context_message(creds.context);
        return client_errc::bad_input;
    }
    if (auto ec = ensure_dirs(diag)) return ec;
    return write_file_atomic(credentials_path(creds.context),
                             detail::credentials_record(home_, creds), 0600, diag);
}

namespace {
std::string utc_stamp(time_point now) {
    const std::time_t t = sys_clock::to_time_t(now);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}
}  // namespace

result<std::optional<credential_store::set_aside_file>> credential_store::set_aside_corrupt(
    std::string_view context, time_point now, diagnostics& diag) const {
    using out = std::optional<set_aside_file>;
    diagnostics why;
    auto current = load(context, why);
    if (current || current.error() != client_errc::store_corrupt) {
        if (current) return out{};
        diag = std::move(why);
        return current.error();  // unreadable for another reason: store nothing over it
    }
    const auto path = credentials_path(context);
    const std::string base = path.string() + ".corrupt-" + utc_stamp(now);
    // link + unlink: never replaces an earlier copy (rename would, silently).
    for (int n = 0; n < 100; ++n) {
        const fs::path kept = n == 0 ? fs::path(base) : fs::path(base + "-" + std::to_string(n));
        if (::link(path.c_str(), kept.c_str()) != 0) {
            if (errno == EEXIST) continue;
            return io_error(diag, "cannot keep the unreadable credentials file as", kept, errno);
        }
        ::unlink(path.c_str());
        detail::sync_dir(path.parent_path());
        const auto& reason = why.client_message;
        return out{set_aside_file{kept, reason.substr(0, reason.find("; it was left untouched")) +
                                            "; it was kept as " + kept.string()}};
    }
    return io_error(diag, "cannot keep the unreadable credentials file as", base, EEXIST);
}

std::string credential_store::permission_warning(std::string_view context) const {
    const auto path = credentials_path(context);
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0)
        return {};
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return path.string() + " has mode " + mode + ": other users can read the tokens in it; run "
           "`chmod 600 " + path.string() + "`";
}

result<bool> credential_store::remove(std::string_view context, diagnostics& diag) const {
    const auto path = credentials_path(context);
    detail::remove_temp_files(path);  // they may hold credentials too (issue 18 #8)
    detail::forget_refresh_token(home_, context);
    if (::unlink(path.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    return result<bool>(boost::system::in_place_error, io_error(diag, "cannot remove", path, errno));
}

result<config_file> credential_store::load_config(diagnostics& diag) const {
    if (auto ec = detail::check_private_dir(home_, diag)) return ec;
    auto text = read_small_file(config_path(), diag);
    if (!text) return text.error();
    if (!*text) return config_file{};
    auto c = config_from_json(**text, diag);
    if (!c) diag.client_message = config_path().string() + ": " + diag.client_message +
                                  "; it was left untouched";
    return c;
}

error_code credential_store::save_config(const config_file& cfg, diagnostics& diag) const {
    if (auto ec = ensure_dirs(diag)) return ec;
    return write_file_atomic(config_path(), to_json(cfg), 0600, diag);
}

}  // namespace latchkey
