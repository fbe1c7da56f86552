// Saves reserved before a refresh is sent, and the repair of what a crash leaves behind
// (issue 18 #3, #8). See store.hpp: pending_save, prepare_save, recover.
#include <latchkey/core/store.hpp>

#include "store_io.hpp"
#include "store_keyring.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace latchkey {
namespace fs = std::filesystem;

namespace detail {
namespace {

bool all_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// "<pid>-<random>" (write_file_atomic) or "<pid>-<random>-<base>" (prepare_save), all
// decimal; the pid, or 0 when `rest` is not of that shape.
long temp_suffix_pid(std::string_view rest) {
    const auto dash = rest.find('-');
    if (dash == std::string_view::npos || !all_digits(rest.substr(0, dash))) return 0;
    std::string_view tail = rest.substr(dash + 1);
    const auto dash2 = tail.find('-');
    if (!all_digits(tail.substr(0, dash2))) return 0;
    if (dash2 != std::string_view::npos && !all_digits(tail.substr(dash2 + 1))) return 0;
    return std::strtol(std::string(rest.substr(0, dash)).c_str(), nullptr, 10);
}

bool other_live_process(long pid) {
    if (pid <= 0 || pid == ::getpid()) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

std::vector<fs::path> temp_files_of(const fs::path& target, bool orphans_only) {
    std::vector<fs::path> out;
    const std::string prefix = "." + target.filename().string() + ".tmp-";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(target.parent_path(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        const long pid = temp_suffix_pid(std::string_view(name).substr(prefix.size()));
        if (pid == 0 || (orphans_only && other_live_process(pid))) continue;
        out.push_back(e.path());
    }
    return out;
}

void remove_temp_files(const fs::path& target) {
    const auto temps = temp_files_of(target, false);
    for (const auto& t : temps) ::unlink(t.c_str());
    if (!temps.empty()) sync_dir(target.parent_path());
}

}  // namespace detail

// ---- pending_save ----------------------------------------------------------------------

pending_save::pending_save(int fd, fs::path temp, fs::path target)
    : fd_(fd), temp_(std::move(temp)), target_(std::move(target)) {}

pending_save::pending_save(pending_save&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), temp_(std::move(other.temp_)),
      target_(std::move(other.target_)) {
    other.temp_.clear();
}

pending_save& pending_save::operator=(pending_save&& other) noexcept {
    if (this != &other) {
        discard();
        fd_ = std::exchange(other.fd_, -1);
        temp_ = std::move(other.temp_);
        target_ = std::move(other.target_);
        other.temp_.clear();
    }
    return *this;
}

pending_save::~pending_save() { discard(); }

void pending_save::discard() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
}

error_code pending_save::commit(const stored_credentials& creds, diagnostics& diag) {
    if (fd_ < 0) {
        diag.client_message = "internal error: a reserved credentials save was used twice";
        return client_errc::store_io;
    }
    auto fail = [&](const char* what, int err) {
        auto ec = detail::store_io_error(diag, what, temp_, err);
        discard();
        return ec;
    };
    // target_ is <home>/credentials/<context>.json.
    const std::string text = detail::credentials_record(target_.parent_path().parent_path(), creds);
    // Over the padding: record + spaces already parses, so a crash before the truncate
    // still leaves a complete record for recover().
    if (::lseek(fd_, 0, SEEK_SET) != 0) return fail("cannot seek in", errno);
    if (auto ec = detail::write_all(fd_, text)) return fail("cannot write", ec.value());
    if (::ftruncate(fd_, static_cast<off_t>(text.size())) != 0) return fail("cannot truncate", errno);
    if (::fsync(fd_) != 0) return fail("cannot fsync", errno);
    ::close(fd_);
    fd_ = -1;
    if (detail::before_rename_hook) detail::before_rename_hook(temp_);
    if (::rename(temp_.c_str(), target_.c_str()) != 0) return fail("cannot rename into place", errno);
    temp_.clear();
    detail::sync_dir(target_.parent_path());
    return {};
}

// ---- credential_store ------------------------------------------------------------------

namespace {
std::string base_of(const stored_credentials& c) {
    return std::to_string(std::hash<std::string>{}(to_json(c)));
}
}  // namespace

result<pending_save> credential_store::prepare_save(const stored_credentials& current,
                                                    diagnostics& diag) const {
    if (!valid_context_name(current.context)) {
        diag.client_message = invalid_context_message(current.context);
        return client_errc::bad_input;
    }
    if (auto ec = ensure_dirs(diag)) return ec;
    const fs::path target = credentials_path(current.context);
    // The name records which stored record this save replaces (its base): recover() adopts
    // it only over that record, whatever the file times say.
    const fs::path temp = detail::temp_name_for(target).string() + "-" + base_of(current);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                          0600);
    if (fd < 0) return detail::store_io_error(diag, "cannot create", temp, errno);
    pending_save p(fd, temp, target);  // from here on, an early return removes the file
    if (::fchmod(fd, 0600) != 0) return detail::store_io_error(diag, "cannot chmod", temp, errno);
    const std::string padding(2 * to_json(current).size() + 4096, ' ');
    if (auto ec = detail::write_all(fd, padding))
        return detail::store_io_error(diag, "cannot reserve space in", temp, ec.value());
    if (::fsync(fd) != 0)
        return detail::store_io_error(diag, "cannot reserve space in", temp, errno);
    return result<pending_save>(std::move(p));
}

namespace {

struct temp_record {
    fs::path path;
    std::string text;  // to_json of the parsed record
};

// The record in `temp` when it may replace `stored` (see recover() in store.hpp).
std::optional<temp_record> adoptable(const fs::path& temp, const stored_credentials& stored) {
    const std::string name = temp.filename().string();
    if (name.size() <= base_of(stored).size() + 1 ||
        name.compare(name.size() - base_of(stored).size() - 1, std::string::npos,
                     "-" + base_of(stored)) != 0)
        return std::nullopt;  // not prepared over what is stored now
    struct stat st{};
    if (::lstat(temp.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    diagnostics d;
    auto text = detail::read_small_file(temp, d);
    if (!text || !*text) return std::nullopt;
    auto c = credentials_from_json(**text, d);
    if (!c || c->issuer != stored.issuer || c->client_id != stored.client_id ||
        c->who.subject != stored.who.subject || c->obtained_at < stored.obtained_at)
        return std::nullopt;
    c->context = stored.context;
    std::string json = to_json(*c);
    if (json == to_json(stored)) return std::nullopt;  // nothing newer in it
    return temp_record{temp, std::move(json)};
}

}  // namespace

result<bool> credential_store::recover(std::string_view context, diagnostics& diag) const {
    const fs::path target = credentials_path(context);
    const auto temps = detail::temp_files_of(target, true);
    if (temps.empty()) return false;
    auto stored = load(context, diag);
    if (!stored)  // a corrupt file: touch nothing
        return result<bool>(boost::system::in_place_error, stored.error());
    std::optional<temp_record> best;
    if (*stored)
        for (const auto& t : temps)
            if (!best) best = adoptable(t, **stored);  // at most one per base (the lock)
    if (best && ::rename(best->path.c_str(), target.c_str()) != 0)
        return result<bool>(boost::system::in_place_error,
                            detail::store_io_error(diag, "cannot adopt", best->path, errno));
    for (const auto& t : temps)
        if (!best || t != best->path) ::unlink(t.c_str());
    detail::sync_dir(target.parent_path());
    return best.has_value();
}

}  // namespace latchkey
