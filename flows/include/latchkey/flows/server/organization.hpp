// Organizations (the seed's tenants; Better Auth's organization plugin): who may do what.
// Pure: the handlers load the organization, the caller's membership and the members, ask
// here, and answer with the verdict's error. Better Auth's default roles:
//   owner  - everything, delete the organization included;
//   admin  - the same except deleting the organization, making or touching an owner;
//   member - read only.
// Platform admins (roles.hpp: user role admin / platform-admin) manage every organization as
// an owner would, member or not (the seed: "Platform admins can manage all tenants").
// The last owner can neither leave, nor be removed, nor be demoted: an organization always has
// an owner (the store checks it again inside the transaction that changes the member).
#pragma once

#include <latchkey/flows/server/records.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey::flows::server {

enum class org_role { owner, admin, member };
std::optional<org_role> parse_org_role(std::string_view name);
std::string_view org_role_name(org_role r);

// The caller: their role in the organization (nullopt: not a member) and whether their
// platform role is an admin one.
struct org_actor {
    std::optional<org_role> role;
    bool platform_admin = false;
};

enum class org_verdict {
    allowed,
    not_member,  // 403 USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION
    forbidden,   // 403 YOU_ARE_NOT_ALLOWED_TO_...
    last_owner,  // 400 YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER / ..._WITHOUT_AN_OWNER
};

// Read the organization, its members and invitations: a member or a platform admin.
org_verdict may_read(const org_actor& a);
// update: owner, admin, platform admin. delete: owner, platform admin.
org_verdict may_update(const org_actor& a);
org_verdict may_delete(const org_actor& a);
// Invite with role `invited` (and cancel invitations): owner or admin; an admin cannot
// invite an owner.
org_verdict may_invite(const org_actor& a, org_role invited);
org_verdict may_cancel_invitation(const org_actor& a);
// Give `target` (currently `target_role`) the role `next`; `owners`: owners now.
org_verdict may_change_role(const org_actor& a, org_role target_role, org_role next, std::int64_t owners);
// Remove a member with role `target_role`; `self`: the caller removes themself (as leave).
org_verdict may_remove(const org_actor& a, org_role target_role, std::int64_t owners, bool self);
// Leave: anyone but the last owner.
org_verdict may_leave(org_role own, std::int64_t owners);

// A slug: 1-64 of [a-z0-9-], not starting or ending with '-'.
bool valid_slug(std::string_view slug);
// A name: 1-128 bytes, no control characters.
bool valid_org_name(std::string_view name);

// Where an invitation stands at `now`.
enum class invitation_state { pending, expired, used };
invitation_state invitation_at(const invitation_record& inv, std::int64_t now);
inline constexpr std::int64_t invitation_ttl = 48 * 3600;  // Better Auth's invitationExpiresIn

// The invitation is for `user`: their email (or, for accounts named by email, their user
// name) equals the invited address, case-insensitively.
bool invitation_for(const invitation_record& inv, const user_record& user);

}  // namespace latchkey::flows::server
