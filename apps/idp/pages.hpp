// latch-idp's server-rendered pages: the HTML frame with its security headers, cookies and
// the CSRF check shared by every form.
#pragma once

#include "idp.hpp"

#include <string>
#include <string_view>

namespace latchkey::idp {

// A page: no scripts, no framing, forms only to ourselves (plus `form_target`, an origin a
// form's answer redirects to, e.g. the client's redirect URI), never cached. `body` is
// HTML the caller escaped.
http_response page(int status, const std::string& title, const std::string& body, std::string_view form_target = {});
// A page with one escaped paragraph.
http_response message_page(int status, const std::string& title, const std::string& text);

// A cookie's value from the request ("" when absent).
std::string cookie_value(const ts::server_request& req, std::string_view name);

// The CSRF cookie (HttpOnly, SameSite=Strict) scoped to `path` (over https: the __Secure-
// prefix and Secure), and the check of a form's "csrf" field against it
// (flows/server/page_guard.hpp).
std::string csrf_set_cookie(const idp_state& st, const std::string& value, std::string_view path);
bool csrf_ok(const idp_state& st, const ts::server_request& req, const flows::server::form& f);

// The form's "username" and "password" checked (argon2id on the hashing pool). An unknown
// user costs a hash too, so timing does not tell which names exist. nullopt: wrong name or
// password. Errors: busy (the pool's queue is full) or storage_failed.
boost::asio::awaitable<result<std::optional<flows::server::user_record>>> sign_in(idp_state& st,
                                                                               const flows::server::form& f);
boost::asio::awaitable<result<std::optional<flows::server::user_record>>> check_password(idp_state& st,
                                                                                      std::string username,
                                                                                      secret password);

// The second factor of a page's sign-in (the form's "otp" field: a TOTP code, or a backup
// code), for a user whose password was right (two_factor.cpp). "": passed, or the user has
// no second factor; else the sentence to show (code missing, wrong or used, locked). A
// wrong code counts towards the lockout; a code is accepted once, as in the API.
boost::asio::awaitable<result<std::string>> page_second_factor(idp_state& st, const flows::server::user_record& user,
                                                               std::string_view typed);
// The form field pages add for it.
inline constexpr const char* otp_field =
    "<p><label>One-time code <input name=\"otp\" autocomplete=\"one-time-code\" inputmode=\"numeric\"></label> "
    "<small>(only if two-factor sign-in is on)</small></p>";

}  // namespace latchkey::idp
