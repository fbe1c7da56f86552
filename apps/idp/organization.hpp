// Shared pieces of Better Auth's organization plugin on latch-idp (/api/auth/organization/*):
// organization.cpp (organizations, set-active, the router), organization_members.cpp,
// organization_invites.cpp and the accept page (accept_page.cpp).
#pragma once

#include "better_auth.hpp"
#include "idp.hpp"

#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/organization.hpp>

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace latchkey::idp {

// A call to /api/auth/organization/*: the signed-in caller and the request's parameters.
struct org_call {
    idp_state& st;
    const ts::server_request& req;
    ts::session_use_result& who;
    const boost::json::object& body;  // a POST's body ({} for GET)
    const flows::server::form& query;  // a GET's query
};

// An organization loaded for a call, with the caller's place in it.
struct org_loaded {
    ts::organization_view view;
    flows::server::org_actor actor;
    std::optional<flows::server::member_record> self;  // the caller's membership
    std::int64_t owners = 0;
};
struct org_or_error {
    std::optional<org_loaded> org;
    std::optional<http_response> error;
};
// The organization `key` (an id, or a slug when `by_slug`) for `user`.
boost::asio::awaitable<org_or_error> load_org(idp_state& st, const flows::server::user_record& user, std::string key,
                                              bool by_slug);
// The organization the call names: organizationId (body or query), organizationSlug (query),
// else the session's active one (400 NO_ACTIVE_ORGANIZATION when there is none).
boost::asio::awaitable<org_or_error> load_call_org(org_call& c);

boost::json::object org_json(const flows::server::organization_record& o);
boost::json::object member_json(const flows::server::member_record& m);
boost::json::object invitation_json(const flows::server::invitation_record& i);
// A refusal: not_member -> 403 USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION, forbidden -> 403
// `code`, last_owner -> 400 YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER.
http_response refusal(flows::server::org_verdict v, std::string_view code, std::string_view message);
// A string field of the body, else of the query ("" when neither).
std::string call_field(const org_call& c, std::string_view name);

// organization_members.cpp / organization_invites.cpp: nullopt when `path` is not theirs.
boost::asio::awaitable<std::optional<http_response>> member_call(org_call& c, std::string_view path);
boost::asio::awaitable<std::optional<http_response>> invitation_call(org_call& c, std::string_view path);

// Accepting (or rejecting) an invitation, shared by the API and the page: the checks
// (recipient, pending, unexpired), the single-use step, the session's new active organization,
// the audit line. `accept` false: reject.
struct invitation_outcome {
    int status = 200;          // 200 or the refusal's status
    std::string code, message;  // the refusal
    ts::invitation_answer_result answered;
};
boost::asio::awaitable<result<invitation_outcome>> answer_as_invitee(idp_state& st, const ts::server_request& req,
                                                                     const ts::session_use_result& who,
                                                                     std::string invitation_id, bool accept);

}  // namespace latchkey::idp
