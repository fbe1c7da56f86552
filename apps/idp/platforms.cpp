// latch-idp platforms (seed 003): DATA/platforms/NAME/ is one platform's whole state, its
// own idp.db, secret.key and signing keys (in its database), users and clients. Nothing is
// shared between two platforms but the process that serves them.
//
//   DATA/platforms/NAME/            0700
//   DATA/platforms/NAME/platform.conf  "host=...", "issuer=..." lines (0600; may be empty)
//   DATA/platforms/NAME/idp.db, secret.key
#include "idp.hpp"

#include <latchkey/flows/server/platform_route.hpp>
#include <latchkey/flows/server/session.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace sfs = std::filesystem;

std::string platforms_dir(const std::string& data) { return data + "/platforms"; }

std::string platform_dir(const std::string& data, const std::string& name) {
    return platforms_dir(data) + "/" + name;
}

namespace {

bool exists(const std::string& path) {
    struct stat sb {};
    return ::stat(path.c_str(), &sb) == 0;
}

// platform.conf: written whole, 0600, then renamed into place.
bool write_conf(const std::string& dir, const platform_info& p) {
    const std::string tmp = dir + "/platform.conf.tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    std::string text;
    if (!p.host.empty()) text += "host=" + p.host + "\n";
    if (!p.issuer.empty()) text += "issuer=" + p.issuer + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    return ok && std::rename(tmp.c_str(), (dir + "/platform.conf").c_str()) == 0;
}

// An issuer given with --issuer: an absolute http(s) URL without query or fragment.
std::optional<std::string> checked_issuer(std::string issuer) {
    while (issuer.size() > 1 && issuer.back() == '/') issuer.pop_back();
    if (fs::url_origin(issuer).empty() || issuer.find_first_of("?#") != std::string::npos) return std::nullopt;
    for (unsigned char ch : issuer)
        if (ch <= 0x20 || ch >= 0x7f) return std::nullopt;
    return issuer;
}

// Provisioning (seed 003): the database with its migrations, the sealing key, a signing key.
bool provision(const std::string& dir) {
    diagnostics diag;
    auto st = open_store(store_location{dir, {}, 0}, diag);
    if (st && load_or_create_sealing_key(dir, diag)) {
        auto keys = await_sync(load_or_create_keys(**st, diag, 3600));
        if (keys) return true;
        if (diag.client_message.empty()) diag.client_message = "signing keys: " + keys.error().message();
    }
    fail("latch-idp: " + diag.client_message);
    return false;
}

}  // namespace

std::optional<platform_info> read_platform(const std::string& data, const std::string& name) {
    if (!fs::valid_platform_name(name)) return std::nullopt;
    const std::string dir = platform_dir(data, name);
    if (!exists(dir + "/idp.db")) return std::nullopt;
    platform_info p;
    p.name = name;
    std::ifstream in(dir + "/platform.conf");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("host=", 0) == 0) p.host = line.substr(5);
        if (line.rfind("issuer=", 0) == 0) p.issuer = line.substr(7);
    }
    if (!p.host.empty() && !fs::canonical_platform_host(p.host)) return std::nullopt;
    return p;
}

std::vector<platform_info> list_platforms(const std::string& data) {
    std::vector<platform_info> out;
    std::error_code ec;
    for (const auto& e : sfs::directory_iterator(platforms_dir(data), ec))
        if (auto p = read_platform(data, e.path().filename().string())) out.push_back(std::move(*p));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

bool use_platform(std::string& data, const std::string& platform) {
    if (platform.empty()) return true;
    if (!fs::valid_platform_name(platform) || !read_platform(data, platform)) {
        fail("latch-idp: no platform '" + platform + "' in " + data);
        return false;
    }
    data = platform_dir(data, platform);
    return true;
}

int platform_add(const platform_add_options& o) {
    if (!fs::valid_platform_name(o.name))
        return fail("latch-idp: a platform name has 1 to 32 lowercase letters, digits or '-' (not at either end)");
    platform_info p{o.name, {}, {}};
    if (!o.host.empty()) {
        auto host = fs::canonical_platform_host(o.host);
        if (!host) return fail("latch-idp: --host wants a host name, e.g. auth.acme.example (optionally :PORT)");
        p.host = *host;
    }
    if (!o.issuer.empty()) {
        auto issuer = checked_issuer(o.issuer);
        if (!issuer) return fail("latch-idp: --issuer wants an http(s) URL without query or fragment");
        p.issuer = *issuer;
    }
    for (const auto& other : list_platforms(o.data))
        if (!p.host.empty() && fs::host_name_of(other.host) == fs::host_name_of(p.host))
            return fail("latch-idp: platform '" + other.name + "' already has the host " + other.host);
    if (::mkdir(o.data.c_str(), 0700) != 0 && errno != EEXIST)
        return fail("latch-idp: cannot create " + o.data + ": " + std::strerror(errno));
    if (::mkdir(platforms_dir(o.data).c_str(), 0700) != 0 && errno != EEXIST)
        return fail("latch-idp: cannot create " + platforms_dir(o.data) + ": " + std::strerror(errno));
    const std::string dir = platform_dir(o.data, o.name);
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST) return fail("latch-idp: platform '" + o.name + "' already exists");
        return fail("latch-idp: cannot create " + dir + ": " + std::strerror(errno));
    }
    if (!write_conf(dir, p) || !provision(dir)) {
        std::error_code ec;
        sfs::remove_all(dir, ec);  // nothing half-made stays behind
        return fail("latch-idp: platform '" + o.name + "' was not added");
    }
    std::cout << "added platform " << o.name << " ("
              << (p.host.empty() ? "path /p/" + o.name + "/" : "host " + p.host) << ")\n";
    return 0;
}

int platform_list(const std::string& data) {
    for (const auto& p : list_platforms(data))
        std::cout << p.name << "\t" << (p.host.empty() ? "/p/" + p.name + "/" : p.host) << "\t"
                  << (p.issuer.empty() ? "-" : p.issuer) << "\n";
    return 0;
}

int platform_rm(const std::string& data, const std::string& name, bool yes) {
    if (!fs::valid_platform_name(name) || !read_platform(data, name))
        return fail("latch-idp: no platform '" + name + "' in " + data);
    if (!yes)
        return fail("latch-idp: removing platform '" + name +
                    "' deletes its database, keys, users and clients; run again with --yes");
    std::error_code ec;
    sfs::remove_all(platform_dir(data, name), ec);
    if (ec) return fail("latch-idp: cannot remove platform '" + name + "': " + ec.message());
    std::cout << "removed platform " << name << "\n";
    return 0;
}

}  // namespace latchkey::idp
