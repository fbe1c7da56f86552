// Better Auth's organization plugin, members: list-members, get-active-member(-role),
// update-member-role, remove-member, leave. The permission decision is flows/server's
// (organization.hpp); the store's change_member re-checks "an owner remains" inside its
// transaction, so two concurrent demotions of the last two owners cannot both pass.
#include "organization.hpp"

#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

http_response member_not_found() { return api_error(400, "MEMBER_NOT_FOUND", "Member not found"); }

// The member `key` names: a member id, or (with '@') the member's email.
const fs::member_record* find_member(const org_loaded& o, const std::string& key) {
    const bool email = key.find('@') != std::string::npos;
    const auto wanted = fs::canonical_email(key);
    for (const auto& m : o.view.members) {
        if (!email && m.id == key) return &m;
        if (email && wanted && fs::canonical_email(m.user_email) == wanted) return &m;
    }
    return nullptr;
}

// role: "owner" | "admin" | "member", or a one-element array of it (Better Auth takes arrays).
std::optional<fs::org_role> role_field(const json::object& body) {
    auto it = body.find("role");
    if (it == body.end()) return std::nullopt;
    const json::value* v = &it->value();
    if (v->is_array() && v->as_array().size() == 1) v = &v->as_array()[0];
    if (!v->is_string()) return std::nullopt;
    return fs::parse_org_role(std::string_view(v->as_string()));
}

// Applies change_member (`role` empty: remove): the member after the change, or the answer
// that refuses it (gone meanwhile, the last owner, a storage failure).
struct applied {
    std::optional<fs::member_record> member;
    http_response refused;
};
boost::asio::awaitable<applied> apply(org_call& c, const org_loaded& o, const fs::member_record& target,
                                      std::string role) {
    std::string org_id = o.view.org.id, member_id = target.id;
    auto changed = co_await c.st.store.change_member(std::move(org_id), std::move(member_id), role);
    applied out;
    if (!changed && changed.error() == fs::server_errc::not_found) out.refused = member_not_found();
    else if (!changed) out.refused = api_failure(changed.error());
    else if (changed->last_owner) out.refused = refusal(fs::org_verdict::last_owner, "", "");
    else {
        out.member = changed->before;
        if (!role.empty()) out.member->role = role;
    }
    co_return out;
}

boost::asio::awaitable<http_response> update_role(org_call& c) {
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    const auto& o = *loaded.org;
    auto next = role_field(c.body);
    if (!next) co_return api_error(400, "ROLE_NOT_FOUND", "Role not found");
    const auto* target = find_member(o, string_field(c.body, "memberId").value_or(""));
    if (!target) co_return member_not_found();
    const auto current = fs::parse_org_role(target->role).value_or(fs::org_role::member);
    if (auto v = fs::may_change_role(o.actor, current, *next, o.owners); v != fs::org_verdict::allowed)
        co_return refusal(v, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER", "You are not allowed to update this member");
    std::string role(fs::org_role_name(*next));
    auto after = co_await apply(c, o, *target, std::move(role));
    if (!after.member) co_return std::move(after.refused);
    note_event(c.st, &c.req, {.event = "member_role_change", .user_id = c.who.user.id, .username = c.who.user.username,
                              .organization_id = o.view.org.id, .target = target->user_id, .role = after.member->role});
    co_return api_json(200, member_json(*after.member));
}

boost::asio::awaitable<http_response> remove_member(org_call& c) {
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    const auto& o = *loaded.org;
    const auto* target = find_member(o, string_field(c.body, "memberIdOrEmail").value_or(""));
    if (!target) co_return member_not_found();
    const auto role = fs::parse_org_role(target->role).value_or(fs::org_role::member);
    const bool self = target->user_id == c.who.user.id;
    if (auto v = fs::may_remove(o.actor, role, o.owners, self); v != fs::org_verdict::allowed)
        co_return refusal(v, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER", "You are not allowed to delete this member");
    std::string none;
    auto removed = co_await apply(c, o, *target, std::move(none));
    if (!removed.member) co_return std::move(removed.refused);
    note_event(c.st, &c.req, {.event = "member_remove", .user_id = c.who.user.id, .username = c.who.user.username,
                              .organization_id = o.view.org.id, .target = target->user_id, .role = target->role});
    co_return api_json(200, json::object{{"member", member_json(*removed.member)}});
}

boost::asio::awaitable<http_response> leave(org_call& c) {
    if (call_field(c, "organizationId").empty()) co_return api_error(400, "VALIDATION_ERROR", "organizationId is missing");
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    const auto& o = *loaded.org;
    if (!o.self) co_return member_not_found();
    const auto own = fs::parse_org_role(o.self->role).value_or(fs::org_role::member);
    if (auto v = fs::may_leave(own, o.owners); v != fs::org_verdict::allowed) co_return refusal(v, "", "");
    std::string none;
    auto removed = co_await apply(c, o, *o.self, std::move(none));
    if (!removed.member) co_return std::move(removed.refused);
    note_event(c.st, &c.req, {.event = "member_leave", .user_id = c.who.user.id, .username = c.who.user.username,
                              .organization_id = o.view.org.id, .target = c.who.user.id, .role = o.self->role});
    co_return api_json(200, member_json(*removed.member));
}

boost::asio::awaitable<http_response> list_members(org_call& c) {
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    const auto& o = *loaded.org;
    if (auto v = fs::may_read(o.actor); v != fs::org_verdict::allowed) co_return refusal(v, "", "");
    auto page = fs::parse_page(c.query.value_or_empty("limit"), c.query.value_or_empty("offset"));
    if (!page) co_return api_error(400, "VALIDATION_ERROR", "limit and offset must be non-negative integers");
    json::array members;
    const auto total = static_cast<std::int64_t>(o.view.members.size());
    for (std::int64_t i = page->offset; i < total && i < page->offset + page->limit; ++i)
        members.push_back(member_json(o.view.members[static_cast<std::size_t>(i)]));
    co_return api_json(200, json::object{{"members", std::move(members)}, {"total", total}});
}

boost::asio::awaitable<http_response> active_member(org_call& c, bool role_only) {
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    if (!loaded.org->self) co_return member_not_found();
    if (role_only) co_return api_json(200, json::object{{"role", loaded.org->self->role}});
    co_return api_json(200, member_json(*loaded.org->self));
}

}  // namespace

boost::asio::awaitable<std::optional<http_response>> member_call(org_call& c, std::string_view path) {
    std::optional<http_response> out;
    if (path == "/organization/list-members") out = co_await list_members(c);
    else if (path == "/organization/get-active-member") out = co_await active_member(c, false);
    else if (path == "/organization/get-active-member-role") out = co_await active_member(c, true);
    else if (path == "/organization/update-member-role") out = co_await update_role(c);
    else if (path == "/organization/remove-member") out = co_await remove_member(c);
    else if (path == "/organization/leave") out = co_await leave(c);
    co_return out;
}

}  // namespace latchkey::idp
