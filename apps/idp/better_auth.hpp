// Shared pieces of the Better Auth endpoints (/api/auth/*): better_auth.cpp (core) and
// two_factor.cpp (the two-factor plugin's endpoints).
#pragma once

#include "idp.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace latchkey::idp {

http_response api_json(int status, const boost::json::value& v);
// Better Auth's error shape: {"code": "...", "message": "..."} (429/503 with Retry-After).
http_response api_error(int status, std::string_view code, std::string_view message);
// busy: 503 + Retry-After; anything else 500.
http_response api_failure(error_code ec);
boost::json::object user_json(const flows::server::user_record& u);
boost::json::object session_json(const flows::server::session_record& s);
// The JSON object body of a POST (an empty body is {}); nullopt: not JSON or not an object.
std::optional<boost::json::object> json_body(const ts::server_request& req);
std::optional<std::string> string_field(const boost::json::object& o, std::string_view name);
bool bool_field(const boost::json::object& o, std::string_view name, bool fallback);
bool remember_me(const boost::json::object& o);
// Better Auth's password length rule (8..128): the 400 answer, or nullopt when it fits.
std::optional<http_response> password_refusal(std::string_view password);
// The fields of a new account (sign-up, the admin's create-user): email (canonical),
// password (the length rule), name (at most 256 bytes); or the 400 answer.
struct new_user_fields {
    std::string email, password, name;
};
std::variant<new_user_fields, http_response> new_user_fields_of(const boost::json::object& body);
// A state-changing call's guards: Origin (CSRF), JSON body. nullopt: go on.
std::optional<http_response> refuse_post(const idp_state& st, const ts::server_request& req);
// `r` with a Set-Cookie header (none when `set_cookie` is empty).
http_response with_cookie(http_response r, std::string set_cookie);

// ---- two-factor (two_factor.cpp)
// After a first factor: nullopt when `user` has no verified second factor or this browser
// is trusted; else a sign-in challenge is stored and its two_factor Set-Cookie value returned.
boost::asio::awaitable<result<std::optional<std::string>>> begin_second_factor(idp_state& st,
                                                                            const ts::server_request& req,
                                                                            const flows::server::user_record& user,
                                                                            bool remember);
// A page completing the challenge of the two_factor cookie with the code typed (TOTP or
// backup, spent once, failures counted): `user` empty when there is no live challenge;
// `message` set when the code was refused (show it); else the challenge became a session
// (once) and `set_cookies` holds its cookie and the two_factor cookie's removal.
struct page_challenge_outcome {
    std::optional<flows::server::user_record> user;
    std::string message;
    std::vector<std::string> set_cookies;
};
boost::asio::awaitable<result<page_challenge_outcome>> complete_page_challenge(idp_state& st,
                                                                               const ts::server_request& req,
                                                                               std::string_view typed);
// After a correct password: nullopt when `user` has no verified second factor or this
// browser is trusted (go on and start the session); else the answer that asks for the
// second factor ({"twoFactorRedirect": true, ...} with the two_factor cookie).
boost::asio::awaitable<std::optional<http_response>> second_factor_gate(idp_state& st, const ts::server_request& req,
                                                                         const flows::server::user_record& user,
                                                                         bool remember);
// /api/auth/two-factor/* (`path` without the /api/auth prefix), a POST with a JSON object body
// that passed refuse_post.
boost::asio::awaitable<http_response> two_factor_api(idp_state& st, const ts::server_request& req,
                                                     std::string_view path, const boost::json::object& body);

// ---- the signed-in user's own account (account.cpp): change-password, update-user,
// revoke-sessions, revoke-other-sessions, delete-user; a POST that passed refuse_post.
bool is_account_path(std::string_view path);
boost::asio::awaitable<http_response> account_api(idp_state& st, const ts::server_request& req,
                                                  std::string_view path, const boost::json::object& body);

// ---- admin plugin (admin_plugin.cpp)
// /api/auth/admin/* (`path` without the /api/auth prefix): an admin's session only.
boost::asio::awaitable<http_response> admin_api(idp_state& st, const ts::server_request& req, std::string_view path);
// set-role's / create-user's `role` (a name or a list of names, joined by ','); nullopt when
// absent, malformed or naming an unknown role.
std::optional<std::string> admin_role_field(const boost::json::object& body);
// ---- admin plugin, user management (admin_users.cpp)
// get-user, create-user, update-user, remove-user, set-user-password, list-user-sessions,
// revoke-user-session for an admin; nullopt for other paths.
boost::asio::awaitable<std::optional<http_response>> admin_user_operation(idp_state& st, const ts::server_request& req,
                                                                          std::string_view path,
                                                                          const boost::json::object& body,
                                                                          const flows::server::user_record& admin);
// has-permission: {"error": null, "success": bool} for the caller's role (Better Auth's
// default statements: admins hold user.* and session.*, users nothing).
http_response has_permission(const boost::json::object& body, const flows::server::user_record& user);
bool admin_statement_allows(std::string_view resource, std::string_view action);

// ---- organization plugin (organization.cpp)
// /api/auth/organization/* (`path` without the /api/auth prefix): a signed-in user only.
boost::asio::awaitable<http_response> organization_api(idp_state& st, const ts::server_request& req,
                                                       std::string_view path);

}  // namespace latchkey::idp
