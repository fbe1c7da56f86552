// Organizations: permission rules (organization.hpp).
#include <latchkey/flows/server/organization.hpp>

#include <latchkey/flows/server/session.hpp>

namespace latchkey::flows::server {

std::optional<org_role> parse_org_role(std::string_view name) {
    if (name == "owner") return org_role::owner;
    if (name == "admin") return org_role::admin;
    if (name == "member") return org_role::member;
    return std::nullopt;
}

std::string_view org_role_name(org_role r) {
    switch (r) {
    case org_role::owner: return "owner";
    case org_role::admin: return "admin";
    case org_role::member: break;
    }
    return "member";
}

namespace {

// Acts as an owner: an owner, or a platform admin.
bool as_owner(const org_actor& a) { return a.platform_admin || a.role == org_role::owner; }
bool manages(const org_actor& a) { return as_owner(a) || a.role == org_role::admin; }
org_verdict refuse(const org_actor& a) { return a.role || a.platform_admin ? org_verdict::forbidden : org_verdict::not_member; }

}  // namespace

org_verdict may_read(const org_actor& a) { return a.role || a.platform_admin ? org_verdict::allowed : org_verdict::not_member; }

org_verdict may_update(const org_actor& a) { return manages(a) ? org_verdict::allowed : refuse(a); }

org_verdict may_delete(const org_actor& a) { return as_owner(a) ? org_verdict::allowed : refuse(a); }

org_verdict may_invite(const org_actor& a, org_role invited) {
    if (!manages(a)) return refuse(a);
    if (invited == org_role::owner && !as_owner(a)) return org_verdict::forbidden;
    return org_verdict::allowed;
}

org_verdict may_cancel_invitation(const org_actor& a) { return manages(a) ? org_verdict::allowed : refuse(a); }

org_verdict may_change_role(const org_actor& a, org_role target_role, org_role next, std::int64_t owners) {
    if (!manages(a)) return refuse(a);
    // An admin neither makes an owner nor changes one.
    if ((target_role == org_role::owner || next == org_role::owner) && !as_owner(a)) return org_verdict::forbidden;
    if (target_role == org_role::owner && next != org_role::owner && owners <= 1) return org_verdict::last_owner;
    return org_verdict::allowed;
}

org_verdict may_remove(const org_actor& a, org_role target_role, std::int64_t owners, bool self) {
    if (self && a.role) return may_leave(*a.role, owners);
    if (!manages(a)) return refuse(a);
    if (target_role == org_role::owner && !as_owner(a)) return org_verdict::forbidden;
    if (target_role == org_role::owner && owners <= 1) return org_verdict::last_owner;
    return org_verdict::allowed;
}

org_verdict may_leave(org_role own, std::int64_t owners) {
    return own == org_role::owner && owners <= 1 ? org_verdict::last_owner : org_verdict::allowed;
}

bool valid_slug(std::string_view slug) {
    if (slug.empty() || slug.size() > 64 || slug.front() == '-' || slug.back() == '-') return false;
    for (char c : slug)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

bool valid_org_name(std::string_view name) {
    if (name.empty() || name.size() > 128) return false;
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

invitation_state invitation_at(const invitation_record& inv, std::int64_t now) {
    if (inv.status != "pending") return invitation_state::used;
    return now >= inv.expires_at ? invitation_state::expired : invitation_state::pending;
}

bool invitation_for(const invitation_record& inv, const user_record& user) {
    const auto invited = canonical_email(inv.email);
    if (!invited) return false;
    const auto email = canonical_email(user.email);
    const auto name = canonical_email(user.username);
    return (email && *email == *invited) || (name && *name == *invited);
}

}  // namespace latchkey::flows::server
