// latch-idp organizations (Better Auth's organization plugin): who may invite, remove,
// change roles, leave; the last owner; platform admins; slugs; invitations' state and owner.
#include <latchkey/flows/server/organization.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

using namespace latchkey::flows::server;

namespace {
const org_actor owner{org_role::owner, false}, admin{org_role::admin, false}, member{org_role::member, false};
const org_actor outsider{std::nullopt, false}, platform_admin{std::nullopt, true};
}  // namespace

TEST_CASE("organization roles: owner, admin, member only", "[unit][server][organization]") {
    CHECK(parse_org_role("owner") == org_role::owner);
    CHECK(parse_org_role("admin") == org_role::admin);
    CHECK(parse_org_role("member") == org_role::member);
    CHECK_FALSE(parse_org_role("Owner"));
    CHECK_FALSE(parse_org_role("platform-admin"));
    CHECK_FALSE(parse_org_role(""));
    CHECK(org_role_name(org_role::admin) == "admin");
}

TEST_CASE("organization: owners and admins invite, members and outsiders cannot", "[unit][server][organization]") {
    CHECK(may_invite(owner, org_role::owner) == org_verdict::allowed);
    CHECK(may_invite(owner, org_role::member) == org_verdict::allowed);
    CHECK(may_invite(admin, org_role::admin) == org_verdict::allowed);
    CHECK(may_invite(admin, org_role::owner) == org_verdict::forbidden);
    CHECK(may_invite(member, org_role::member) == org_verdict::forbidden);
    CHECK(may_invite(outsider, org_role::member) == org_verdict::not_member);
    CHECK(may_invite(platform_admin, org_role::owner) == org_verdict::allowed);
    CHECK(may_cancel_invitation(admin) == org_verdict::allowed);
    CHECK(may_cancel_invitation(member) == org_verdict::forbidden);
}

TEST_CASE("organization: reading, updating, deleting", "[unit][server][organization]") {
    CHECK(may_read(member) == org_verdict::allowed);
    CHECK(may_read(outsider) == org_verdict::not_member);
    CHECK(may_read(platform_admin) == org_verdict::allowed);
    CHECK(may_update(admin) == org_verdict::allowed);
    CHECK(may_update(member) == org_verdict::forbidden);
    CHECK(may_delete(owner) == org_verdict::allowed);
    CHECK(may_delete(admin) == org_verdict::forbidden);
    CHECK(may_delete(platform_admin) == org_verdict::allowed);
    CHECK(may_delete(outsider) == org_verdict::not_member);
}

TEST_CASE("organization: role changes; an admin cannot make or touch an owner", "[unit][server][organization]") {
    CHECK(may_change_role(admin, org_role::member, org_role::admin, 1) == org_verdict::allowed);
    CHECK(may_change_role(admin, org_role::member, org_role::owner, 1) == org_verdict::forbidden);
    CHECK(may_change_role(admin, org_role::owner, org_role::member, 2) == org_verdict::forbidden);
    CHECK(may_change_role(member, org_role::member, org_role::admin, 1) == org_verdict::forbidden);
    CHECK(may_change_role(owner, org_role::member, org_role::owner, 1) == org_verdict::allowed);
    CHECK(may_change_role(owner, org_role::owner, org_role::member, 2) == org_verdict::allowed);
    CHECK(may_change_role(owner, org_role::owner, org_role::admin, 1) == org_verdict::last_owner);
    CHECK(may_change_role(platform_admin, org_role::owner, org_role::member, 2) == org_verdict::allowed);
    CHECK(may_change_role(outsider, org_role::member, org_role::admin, 1) == org_verdict::not_member);
}

TEST_CASE("organization: removal and leaving keep an owner", "[unit][server][organization]") {
    CHECK(may_remove(owner, org_role::member, 1, false) == org_verdict::allowed);
    CHECK(may_remove(admin, org_role::member, 1, false) == org_verdict::allowed);
    CHECK(may_remove(admin, org_role::owner, 2, false) == org_verdict::forbidden);
    CHECK(may_remove(member, org_role::member, 1, false) == org_verdict::forbidden);
    CHECK(may_remove(owner, org_role::owner, 1, true) == org_verdict::last_owner);
    CHECK(may_remove(owner, org_role::owner, 2, true) == org_verdict::allowed);
    CHECK(may_remove(member, org_role::member, 1, true) == org_verdict::allowed);  // removing oneself is leaving
    CHECK(may_remove(platform_admin, org_role::owner, 1, false) == org_verdict::last_owner);
    CHECK(may_remove(platform_admin, org_role::owner, 2, false) == org_verdict::allowed);
    CHECK(may_leave(org_role::owner, 1) == org_verdict::last_owner);
    CHECK(may_leave(org_role::owner, 2) == org_verdict::allowed);
    CHECK(may_leave(org_role::member, 1) == org_verdict::allowed);
}

TEST_CASE("organization: slugs and names", "[unit][server][organization]") {
    CHECK(valid_slug("acme"));
    CHECK(valid_slug("acme-2"));
    CHECK_FALSE(valid_slug(""));
    CHECK_FALSE(valid_slug("-acme"));
    CHECK_FALSE(valid_slug("Acme"));
    CHECK_FALSE(valid_slug("ac me"));
    CHECK_FALSE(valid_slug(std::string(65, 'a')));
    CHECK(valid_org_name("Acme, Inc."));
    CHECK_FALSE(valid_org_name(""));
    CHECK_FALSE(valid_org_name("a\nb"));
}

TEST_CASE("invitations: pending until used or expired; only for the invited address", "[unit][server][organization]") {
    invitation_record inv;
    inv.email = "bob@example.com";
    inv.expires_at = 1000;
    CHECK(invitation_at(inv, 999) == invitation_state::pending);
    CHECK(invitation_at(inv, 1000) == invitation_state::expired);
    inv.status = "accepted";
    CHECK(invitation_at(inv, 10) == invitation_state::used);
    user_record bob;
    bob.username = "bob";
    bob.email = "Bob@Example.com";
    CHECK(invitation_for(inv, bob));
    user_record by_name;
    by_name.username = "bob@example.com";
    CHECK(invitation_for(inv, by_name));
    user_record eve;
    eve.username = "eve@example.com";
    eve.email = "eve@example.com";
    CHECK_FALSE(invitation_for(inv, eve));
}

TEST_CASE("access token: org_id and org_role next to role, only with an organization", "[unit][server][organization]") {
    access_token_params p{"https://idp", "u1", "cli", "", "openid", "j1", 100, 60, "user", "g1"};
    auto plain = access_token_claims(p);
    CHECK_FALSE(plain.contains("org_id"));
    CHECK_FALSE(plain.contains("org_role"));
    p.organization_id = "org1";
    p.organization_role = "admin";
    auto with_org = access_token_claims(p);
    CHECK(with_org.at("org_id").as_string() == "org1");
    CHECK(with_org.at("org_role").as_string() == "admin");
    CHECK(with_org.at("role").as_string() == "user");
}
