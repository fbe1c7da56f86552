// Shared by the authorization endpoint (authorize.cpp), its consent page (consent.cpp) and
// RP-initiated logout (logout.cpp).
#pragma once

#include "idp.hpp"

#include <latchkey/flows/server/authorize.hpp>

#include <string>
#include <string_view>

namespace latchkey::idp {

// The authorization request's fields a form carries on to the next step.
inline constexpr const char* authorize_form_fields[] = {"client_id",      "redirect_uri",         "response_type",
                                                        "scope",          "state",                "nonce",
                                                        "code_challenge", "code_challenge_method"};
// <input type=hidden> for each of them present in `params` (escaped).
std::string hidden_authorize_fields(const flows::server::form& params);

// scheme://host[:port] of a URI, for a page's CSP form-action ("" when it has none).
std::string origin_of(std::string_view uri);
// 303 to `location`, not cached.
http_response redirect_to(const std::string& location);
// An authorization error: on our page when it may not be redirected, else back to the
// client with error, error_description, state and iss (RFC 9207).
http_response error_answer(idp_state& st, const flows::server::authorize_error& err, std::string_view redirect_uri,
                           std::string_view state);
// A code for `user_id`, redirected to the client (with the session cookie to set, if any).
// `organization_id`: the approving session's active organization (the tokens' org claims).
boost::asio::awaitable<http_response> issue_code(idp_state& st, const flows::server::authorize_request& a,
                                                 std::string user_id, std::string set_cookie,
                                                 std::string organization_id = {});

// The user is known (a live session, or signed in just now): a code when consent is not
// needed (consent.hpp needs_consent), consent_required for prompt=none, else the consent page.
boost::asio::awaitable<http_response> after_sign_in(idp_state& st, const flows::server::client_record& client,
                                                    const flows::server::form& params,
                                                    const flows::server::authorize_request& a,
                                                    flows::server::user_record user, std::string set_cookie,
                                                    std::string organization_id = {});
// POST /oauth2/consent: Allow or Deny from the consent page.
boost::asio::awaitable<http_response> consent_endpoint(idp_state& st, const ts::server_request& req);

}  // namespace latchkey::idp
