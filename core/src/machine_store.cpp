// The machines directory; see machine_store.hpp.
#include <latchkey/core/machine_store.hpp>

#include <latchkey/core/registration.hpp>
#include <latchkey/core/store.hpp>

#include "json_util.hpp"
#include "private_dir.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <tuple>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace latchkey {
namespace fs = std::filesystem;
namespace json = boost::json;
using detail::json_str;

namespace {

constexpr std::size_t max_key_size = 64 << 10;

struct fd_guard {
    int fd = -1;
    ~fd_guard() { if (fd >= 0) ::close(fd); }
};

error_code io_error(diagnostics& diag, const std::string& what, const fs::path& p, int err) {
    diag.client_message = what + " " + p.string() + ": " + std::strerror(err);
    return client_errc::store_io;
}

// Reads a whole file of at most `limit` bytes from an open descriptor.
bool read_fd(int fd, std::string& out, std::size_t limit) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) return true;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > limit) {
            errno = EFBIG;
            return false;
        }
    }
}

}  // namespace

std::string to_json(const machine_record& m) {
    json::object o;
    o["version"] = machine_record::schema_version;
    o["machine_id"] = m.machine_id;
    o["name"] = m.name;
    o["issuer"] = m.issuer;
    o["key_type"] = m.key_type;
    o["kid"] = m.kid;
    o["created_at"] = format_time(m.created_at);
    o["key_created_at"] = format_time(m.key_created_at);
    o["registration_client_uri"] = m.registration_client_uri;
    o["registration_access_token"] = m.registration_access_token.reveal();
    return json::serialize(o) + "\n";
}

result<machine_record> machine_from_json(std::string_view text, diagnostics& diag) {
    error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) {
        diag.client_message = "machine file is not valid JSON";
        return client_errc::store_corrupt;
    }
    const auto& o = v.as_object();
    auto ver = o.find("version");
    if (ver == o.end() || !ver->value().is_int64() || ver->value().as_int64() != 1) {
        diag.client_message = "machine file has no schema version this latch understands";
        return client_errc::store_corrupt;
    }
    machine_record m;
    m.machine_id = json_str(o, "machine_id");
    if (m.machine_id.empty()) {
        diag.client_message = "machine file has no machine_id";
        return client_errc::store_corrupt;
    }
    m.name = json_str(o, "name");
    m.issuer = json_str(o, "issuer");
    m.key_type = json_str(o, "key_type");
    m.kid = json_str(o, "kid");
    if (auto t = parse_time(json_str(o, "created_at"))) m.created_at = *t;
    if (auto t = parse_time(json_str(o, "key_created_at"))) m.key_created_at = *t;
    m.registration_client_uri = json_str(o, "registration_client_uri");
    m.registration_access_token = secret{json_str(o, "registration_access_token")};
    return m;
}

fs::path machine_store::record_path(std::string_view id) const {
    return dir_ / (machine_file_stem(id) + ".json");
}
fs::path machine_store::key_path(std::string_view id) const {
    return dir_ / (machine_file_stem(id) + ".pem");
}

result<std::vector<machine_record>> machine_store::list(diagnostics& diag) const {
    std::vector<machine_record> out;
    for (const auto& d : {dir_.parent_path(), dir_})  // records name keys we will sign with
        if (auto ec = detail::check_private_dir(d, diag)) return ec;
    std::error_code sec;
    if (!fs::exists(dir_, sec)) return out;
    for (const auto& e : fs::directory_iterator(dir_, sec)) {
        const auto& p = e.path();
        if (p.extension() != ".json" || p.filename().string().front() == '.') continue;
        fd_guard f{::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
        std::string text;
        if (f.fd < 0 || !read_fd(f.fd, text, 1 << 20)) return io_error(diag, "cannot read", p, errno);
        auto m = machine_from_json(text, diag);
        if (!m) {
            diag.client_message = p.string() + ": " + diag.client_message + "; it was left untouched";
            return m.error();
        }
        out.push_back(std::move(*m));
    }
    if (sec) return io_error(diag, "cannot list", dir_, sec.value());
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.name, a.machine_id) < std::tie(b.name, b.machine_id);
    });
    return out;
}

result<std::optional<machine_record>> machine_store::find(std::string_view id_or_name,
                                                          diagnostics& diag) const {
    auto all = list(diag);
    if (!all) return all.error();
    for (auto& m : *all)
        if (m.machine_id == id_or_name) return std::optional<machine_record>(std::move(m));
    std::vector<machine_record*> named;
    for (auto& m : *all)
        if (m.name == id_or_name) named.push_back(&m);
    if (named.size() > 1) {
        std::string ids;
        for (auto* m : named) ids += (ids.empty() ? "" : ", ") + m->machine_id;
        diag.client_message = "more than one machine is named '" + std::string(id_or_name) +
                              "' (" + ids + "); give the machine id";
        return client_errc::bad_input;
    }
    if (named.empty()) return std::optional<machine_record>{};
    return std::optional<machine_record>(std::move(*named.front()));
}

error_code machine_store::save(const machine_record& m, diagnostics& diag) const {
    if (auto ec = detail::make_private_dirs(dir_, diag)) return ec;
    return write_file_atomic(record_path(m.machine_id), to_json(m), 0600, diag);
}

error_code machine_store::save_key(std::string_view id, const secret& pem, diagnostics& diag) const {
    if (auto ec = detail::make_private_dirs(dir_, diag)) return ec;
    return write_file_atomic(key_path(id), pem.reveal(), 0600, diag);
}

result<bool> machine_store::remove(std::string_view id, diagnostics& diag) const {
    bool any = false;
    for (const auto& p : {key_path(id), record_path(id)}) {
        if (::unlink(p.c_str()) == 0) any = true;
        else if (errno != ENOENT)
            return result<bool>(boost::system::in_place_error, io_error(diag, "cannot remove", p, errno));
    }
    return any;
}

result<secret> read_private_key_file(const fs::path& path, diagnostics& diag) {
    // Symlinks are followed (mounted secrets often are links); the checks apply to the
    // file actually opened.
    fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
    if (f.fd < 0) {
        if (errno == ENOENT) diag.client_message = "the machine key file " + path.string() + " does not exist";
        else diag.client_message = "cannot read the machine key file " + path.string() + ": " + std::strerror(errno);
        return client_errc::key_error;
    }
    struct stat st{};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        diag.client_message = "the machine key file " + path.string() + " is not a regular file";
        return client_errc::key_error;
    }
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        diag.client_message = "the machine key file " + path.string() + " has mode " + mode +
                              ": other users can read or change it; run `chmod 600 " +
                              path.string() + "` (latch refuses keys with looser modes)";
        return client_errc::key_error;
    }
    std::string text;
    if (!read_fd(f.fd, text, max_key_size)) {
        diag.client_message = "cannot read the machine key file " + path.string() + ": " +
                              (errno == EFBIG ? "larger than 64 KiB, not a key" : std::strerror(errno));
        return client_errc::key_error;
    }
    return secret{std::move(text)};
}

}  // namespace latchkey
