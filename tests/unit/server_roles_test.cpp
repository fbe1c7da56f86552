// latch-idp platform roles and bans (Better Auth's admin plugin): role names, admin roles,
// ban expiry, list-users paging, and the `role` claim of access and ID tokens.
#include <latchkey/flows/server/authorize.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace latchkey::flows::server;

TEST_CASE("roles: user, admin and platform-admin; several joined by ','", "[unit][server][roles]") {
    CHECK(valid_role("user"));
    CHECK(valid_role("admin"));
    CHECK(valid_role("platform-admin"));
    CHECK(valid_role("user,platform-admin"));
    CHECK_FALSE(valid_role(""));
    CHECK_FALSE(valid_role("root"));
    CHECK_FALSE(valid_role("user,"));
    CHECK_FALSE(valid_role("Admin"));
    CHECK(is_admin_role("admin"));
    CHECK(is_admin_role("platform-admin"));
    CHECK(is_admin_role("user,admin"));
    CHECK_FALSE(is_admin_role("user"));
    CHECK_FALSE(is_admin_role("administrator"));
    CHECK_FALSE(is_admin_role(""));
    CHECK(join_roles({"admin", "user"}) == "admin,user");
    CHECK(join_roles({"user"}) == "user");
    CHECK_FALSE(join_roles({}));
    CHECK_FALSE(join_roles({"a,b"}));
    CHECK_FALSE(join_roles({"user", ""}));
}

TEST_CASE("a ban is in force until its expiry; 0 is no end", "[unit][server][roles]") {
    user_record u;
    CHECK(u.role == "user");
    CHECK_FALSE(ban_in_force(u, 100));
    u.banned = true;
    u.ban_reason = "spam";
    CHECK(ban_in_force(u, 100));
    u.ban_expires = 200;
    CHECK(ban_in_force(u, 199));
    CHECK_FALSE(ban_in_force(u, 200));
    CHECK(banned_message(u) == "You have been banned from this application: spam");
    u.ban_reason.clear();
    CHECK(banned_message(u) == "You have been banned from this application");
    CHECK(ban_end(0, 1000) == 0);
    CHECK(ban_end(60, 1000) == 1060);
    CHECK_FALSE(ban_end(-1, 1000));
    CHECK_FALSE(ban_end(200LL * 365 * 86400, 1000));
}

TEST_CASE("list-users paging: defaults, cap, refusals", "[unit][server][roles]") {
    auto p = parse_page("", "");
    REQUIRE(p);
    CHECK(p->limit == default_page_size);
    CHECK(p->offset == 0);
    p = parse_page("2", "4");
    REQUIRE(p);
    CHECK(p->limit == 2);
    CHECK(p->offset == 4);
    p = parse_page("99999", "");
    REQUIRE(p);
    CHECK(p->limit == max_page_size);
    CHECK_FALSE(parse_page("0", ""));
    CHECK_FALSE(parse_page("-1", ""));
    CHECK_FALSE(parse_page("", "x"));
    CHECK_FALSE(parse_page("1e3", ""));
    CHECK_FALSE(parse_page("1234567890123", ""));
}

TEST_CASE("the role claim: access tokens when the user has one; ID tokens with scope profile",
          "[unit][server][roles]") {
    access_token_params p{"https://idp.example", "u1", "cli", "", "openid", "j", 1000, 3600, "admin"};
    CHECK(access_token_claims(p).at("role") == "admin");
    p.role.clear();  // client_credentials: no user, no role
    CHECK_FALSE(access_token_claims(p).contains("role"));
    user_record u{"u1", "alice", "h", 1, "Alice", "a@example.com", "platform-admin"};
    boost::json::object claims;
    add_user_claims(claims, u, "openid email");
    CHECK_FALSE(claims.contains("role"));
    add_user_claims(claims, u, "openid profile");
    CHECK(claims.at("role") == "platform-admin");
}
