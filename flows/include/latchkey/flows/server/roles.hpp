// Platform roles and bans (issue 14; Better Auth's admin plugin). Pure: no I/O.
//
// Roles: "user" (the default) and the admin roles "admin" (Better Auth's default admin role
// name, what its client and `adminClient()` expect) and "platform-admin" (the seed's name;
// NNO's deployment would configure Better Auth with adminRoles ["platform-admin"]). Both admin
// names are accepted and stored as given, so tokens carry the role that was set. A user may
// hold several roles joined by ',' (Better Auth's encoding of a role array).
#pragma once

#include <latchkey/flows/server/records.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::flows::server {

inline constexpr std::string_view default_role = "user";

// Every ','-separated role in `role` is known; false for empty or unknown names.
bool valid_role(std::string_view role);
// One of the roles in `role` is an admin role.
bool is_admin_role(std::string_view role);
// Better Auth's set-role body: a string or an array of strings, joined with ','. nullopt when
// a name is empty, contains ',' or the list is empty.
std::optional<std::string> join_roles(const std::vector<std::string>& roles);

// The user's ban is in force at `now` (banned, and no expiry or an expiry after now).
bool ban_in_force(const user_record& user, std::int64_t now);
// The message a banned user gets (Better Auth's BANNED_USER text with the admin's reason).
std::string banned_message(const user_record& user);

// list-users' `limit` and `offset` query values. Absent (empty): limit default_page_size,
// offset 0; limit is capped at max_page_size. nullopt: not a decimal integer (limit >= 1).
struct page_bounds {
    std::int64_t limit = 0;
    std::int64_t offset = 0;
};
inline constexpr std::int64_t default_page_size = 100, max_page_size = 1000;
std::optional<page_bounds> parse_page(std::string_view limit, std::string_view offset);

// ban-user's `banExpiresIn` (seconds): 0 -> 0 (the ban has no end), else now + seconds.
// nullopt when negative or longer than 100 years.
std::optional<std::int64_t> ban_end(std::int64_t expires_in, std::int64_t now);

}  // namespace latchkey::flows::server
