// Platform roles and bans (roles.hpp).
#include <latchkey/flows/server/roles.hpp>

#include <algorithm>

namespace latchkey::flows::server {
namespace {

constexpr std::string_view known_roles[] = {"user", "admin", "platform-admin"};
constexpr std::string_view admin_roles[] = {"admin", "platform-admin"};

bool in(std::string_view name, const std::string_view* first, const std::string_view* last) {
    for (; first != last; ++first)
        if (*first == name) return true;
    return false;
}

// Calls f(name) for each ','-separated name; stops at the first false.
template <class F>
bool each_role(std::string_view role, F f) {
    while (true) {
        const auto comma = role.find(',');
        if (!f(role.substr(0, comma))) return false;
        if (comma == std::string_view::npos) return true;
        role.remove_prefix(comma + 1);
    }
}

}  // namespace

bool valid_role(std::string_view role) {
    return each_role(role, [](std::string_view r) { return in(r, std::begin(known_roles), std::end(known_roles)); });
}

bool is_admin_role(std::string_view role) {
    bool admin = false;
    each_role(role, [&](std::string_view r) {
        admin = admin || in(r, std::begin(admin_roles), std::end(admin_roles));
        return true;
    });
    return admin;
}

std::optional<std::string> join_roles(const std::vector<std::string>& roles) {
    std::string out;
    for (const auto& r : roles) {
        if (r.empty() || r.find(',') != std::string::npos) return std::nullopt;
        out += (out.empty() ? "" : ",") + r;
    }
    if (out.empty()) return std::nullopt;
    return out;
}

bool ban_in_force(const user_record& user, std::int64_t now) {
    return user.banned && (user.ban_expires == 0 || user.ban_expires > now);
}

std::string banned_message(const user_record& user) {
    std::string m = "You have been banned from this application";
    if (!user.ban_reason.empty()) m += ": " + user.ban_reason;
    return m;
}

namespace {

// A decimal count of at most 12 digits; nullopt otherwise.
std::optional<std::int64_t> count(std::string_view s) {
    if (s.empty() || s.size() > 12) return std::nullopt;
    std::int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

}  // namespace

std::optional<page_bounds> parse_page(std::string_view limit, std::string_view offset) {
    page_bounds out{default_page_size, 0};
    if (!limit.empty()) {
        auto l = count(limit);
        if (!l || *l < 1) return std::nullopt;
        out.limit = std::min(*l, max_page_size);
    }
    if (!offset.empty()) {
        auto o = count(offset);
        if (!o) return std::nullopt;
        out.offset = *o;
    }
    return out;
}

std::optional<std::int64_t> ban_end(std::int64_t expires_in, std::int64_t now) {
    constexpr std::int64_t century = 100LL * 366 * 86400;
    if (expires_in < 0 || expires_in > century) return std::nullopt;
    return expires_in == 0 ? 0 : now + expires_in;
}

}  // namespace latchkey::flows::server
