// The authorization endpoint (RFC 6749 §4.1) with its sign-in page, and the
// authorization_code grant at the token endpoint. Codes live 60 s, are stored hashed and
// redeemed once (store.hpp consume_code); a replayed code revokes what it issued.
#include "authorize.hpp"
#include "pages.hpp"
#include "social.hpp"

#include <latchkey/core/http.hpp>
#include <latchkey/core/jws_sign.hpp>
#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/authorize.hpp>
#include <latchkey/flows/server/consent.hpp>
#include <latchkey/flows/server/pkce_verify.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {

constexpr std::int64_t code_lifetime = 60;

// "/oauth2/authorize?..." with this request's fields: where a social sign-in continues.
std::string authorize_return_to(const fs::form& params) {
    std::vector<std::pair<std::string, std::string>> fields;
    for (auto* name : authorize_form_fields)
        if (auto v = params.get(name)) fields.emplace_back(name, std::string(*v));
    return "/oauth2/authorize?" + form_encode(fields);
}

// The sign-in page; `notice` is HTML the caller escaped. Its "Sign in with NAME" buttons
// come back to this authorization request.
boost::asio::awaitable<http_response> sign_in_form(idp_state& st, const fs::form& params,
                                                   const std::string& redirect_uri, std::string notice,
                                                   int status) {
    std::string return_to = authorize_return_to(params);
    auto social = co_await social_buttons(st, std::move(return_to));
    auto csrf = fs::make_csrf(st.csrf_key);
    auto r = page(status, "Sign in",
                  notice + "<p>" + fs::html_escape(std::string(params.value_or_empty("client_id"))) +
                      " asks to sign you in.</p><form method=\"post\" action=\"" + local_path(st, "/oauth2/authorize") + "\">"
                      "<input type=\"hidden\" name=\"csrf\" value=\"" + fs::html_escape(csrf.field) + "\">" +
                      hidden_authorize_fields(params) +
                      "<p><label>User name <input name=\"username\" autocomplete=\"username\"></label></p>"
                      "<p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label></p>" +
                      otp_field + "<p><button>Sign in</button></p></form>" + social,
                  origin_of(redirect_uri));
    r.headers.emplace_back("Set-Cookie", csrf_set_cookie(st, csrf.cookie, "/oauth2/authorize"));
    co_return r;
}

}  // namespace

std::string hidden_authorize_fields(const fs::form& params) {
    std::string hidden;
    for (auto* name : authorize_form_fields)
        if (auto v = params.get(name))
            hidden += std::string("<input type=\"hidden\" name=\"") + name + "\" value=\"" + fs::html_escape(*v) + "\">";
    return hidden;
}

std::string origin_of(std::string_view uri) {
    auto u = boost::urls::parse_uri(uri);
    if (!u || !u->has_authority()) return {};
    return std::string(u->scheme()) + "://" + std::string(u->encoded_authority());
}

http_response redirect_to(const std::string& location) {
    http_response r;
    r.status = 303;
    r.headers = {{"Location", location}, {"Cache-Control", "no-store"}};
    return r;
}

http_response error_answer(idp_state& st, const fs::authorize_error& err, std::string_view redirect_uri,
                           std::string_view state) {
    if (!err.redirect || redirect_uri.empty())
        return message_page(400, "Sign-in request refused", err.message);
    std::vector<std::pair<std::string, std::string>> p{{"error", err.ec.message()}, {"error_description", err.message}};
    if (!state.empty()) p.emplace_back("state", std::string(state));
    p.emplace_back("iss", st.config.issuer);  // RFC 9207
    return redirect_to(fs::redirect_with(redirect_uri, p));
}

boost::asio::awaitable<http_response> issue_code(idp_state& st, const fs::authorize_request& a, std::string user_id,
                                                 std::string set_cookie, std::string organization_id) {
    const secret code = fs::make_opaque_token();
    fs::code_record rec{fs::hash_token(code.reveal()), random_urlsafe(16), a.client_id, std::move(user_id),
                        a.redirect_uri, a.scope, a.nonce, a.code_challenge, unix_now() + code_lifetime, 0,
                        std::move(organization_id)};
    if (auto ec = co_await st.store.put_code(std::move(rec))) co_return storage_error(ec);
    std::vector<std::pair<std::string, std::string>> p{{"code", code.reveal()}};
    if (!a.state.empty()) p.emplace_back("state", a.state);
    p.emplace_back("iss", st.config.issuer);
    auto r = redirect_to(fs::redirect_with(a.redirect_uri, p));
    if (!set_cookie.empty()) r.headers.emplace_back("Set-Cookie", std::move(set_cookie));
    co_return r;
}

namespace {

// GET: a browser with a live session gets its code at once (unless prompt=login); otherwise
// the sign-in page, or login_required for prompt=none (OIDC Core §3.1.2.1).
boost::asio::awaitable<http_response> signed_in_or_form(idp_state& st, const ts::server_request& req,
                                                        const fs::client_record& client, const fs::form& params,
                                                        const fs::authorize_request& a) {
    const auto prompt = params.value_or_empty("prompt");
    if (!fs::has_word(prompt, "login")) {
        auto s = co_await current_session(st, req);
        if (!s) co_return storage_error(s.error());
        if (s->found) {
            fs::user_record user = s->found->user;
            std::string org = s->found->session.active_organization_id;
            co_return co_await after_sign_in(st, client, params, a, std::move(user), std::move(s->set_cookie),
                                             std::move(org));
        }
    }
    if (fs::has_word(prompt, "none"))
        co_return error_answer(st, {oauth_errc::login_required, "the user is not signed in", true}, a.redirect_uri,
                               a.state);
    std::string no_notice;
    co_return co_await sign_in_form(st, params, a.redirect_uri, std::move(no_notice), 200);
}

}  // namespace

boost::asio::awaitable<http_response> authorize_endpoint(idp_state& st, const ts::server_request& req) {
    const bool post = req.method == http_method::post;
    auto params = fs::form::parse(post ? std::string_view(req.body) : req.query());
    if (!params) co_return message_page(400, "Sign-in request refused", "malformed or repeated parameters");
    std::string client_id(params->value_or_empty("client_id"));
    auto client = co_await st.store.find_client(std::move(client_id));
    if (!client && client.error() != fs::server_errc::not_found) co_return storage_error(client.error());
    fs::authorize_error err;
    auto checked = fs::check_authorize(*params, client ? &*client : nullptr, err);
    const std::string redirect_uri(params->value_or_empty("redirect_uri"));
    if (!checked) co_return error_answer(st, err, redirect_uri, params->value_or_empty("state"));
    if (!post) co_return co_await signed_in_or_form(st, req, *client, *params, *checked);

    if (!csrf_ok(st, req, *params))
        co_return message_page(403, "Request refused", "The form expired or did not come from this site. Start the sign-in again.");
    if (!st.code_attempts.allow(req.peer_ip, unix_now()))
        co_return message_page(429, "Too many attempts", "Too many sign-in attempts. Wait a minute and try again.");
    auto user = co_await sign_in(st, *params);
    if (!user) co_return storage_error(user.error());
    if (!*user) {
        note_sign_in(st, req, login_method::authorize_page, false, {}, params->value_or_empty("username"), "bad_password");
        std::string notice = "<p>Wrong user name or password.</p>";
        co_return co_await sign_in_form(st, *params, redirect_uri, std::move(notice), 401);
    }
    if (fs::ban_in_force(**user, unix_now())) {
        std::string notice = "<p>" + fs::html_escape(fs::banned_message(**user)) + "</p>";
        co_return co_await sign_in_form(st, *params, redirect_uri, std::move(notice), 403);
    }
    auto second = co_await page_second_factor(st, **user, params->value_or_empty("otp"));
    if (!second) co_return storage_error(second.error());
    if (!second->empty()) {
        note_sign_in(st, req, login_method::authorize_page, false, (*user)->id, (*user)->username, "second_factor");
        std::string notice = "<p>" + fs::html_escape(*second) + "</p>";
        co_return co_await sign_in_form(st, *params, redirect_uri, std::move(notice), 401);
    }
    note_sign_in(st, req, login_method::authorize_page, true, (*user)->id, (*user)->username);
    // Signed in here: the same browser session Better Auth's /api/auth/* uses.
    auto cookie = co_await start_session(st, req, **user, true);
    if (!cookie) co_return storage_error(cookie.error());
    fs::user_record signed_in = **user;
    co_return co_await after_sign_in(st, *client, *params, *checked, std::move(signed_in), std::move(*cookie));
}

boost::asio::awaitable<http_response> authorization_code_grant(idp_state& st, const fs::form& params,
                                                               const fs::client_record& client, std::string jkt) {
    if (!client.allows_grant("authorization_code"))
        co_return oauth_error(oauth_errc::unauthorized_client, "this client may not use the authorization code flow");
    const auto code = params.get("code");
    if (!code) co_return oauth_error(oauth_errc::invalid_request, "code is missing");
    const auto now = unix_now();
    std::string code_hash = fs::hash_token(*code);
    auto consumed = co_await st.store.consume_code(std::move(code_hash), now);
    if (!consumed) co_return storage_error(consumed.error());
    if (consumed->status != ts::consume_status::consumed)
        co_return oauth_error(oauth_errc::invalid_grant, "the code is invalid, expired or already used");
    const auto& c = consumed->code;
    // §4.1.3: same client, same redirect_uri string as in the authorization request.
    if (c.client_id != client.client_id || params.value_or_empty("redirect_uri") != c.redirect_uri)
        co_return oauth_error(oauth_errc::invalid_grant, "the code was issued to another client or redirect_uri");
    diagnostics diag;
    if (auto ec = fs::verify_pkce(c.code_challenge, params.value_or_empty("code_verifier"), diag))
        co_return oauth_error(ec, diag.client_message);
    auto user = co_await grant_user(st, c.user_id);
    if (!user) co_return storage_error(user.error());
    if (!*user) co_return oauth_error(oauth_errc::invalid_grant, "the user no longer exists or is banned");
    // The organization active in the session that approved (issue 14), if the user is still
    // a member of it now.
    auto org = co_await grant_org(st, c.user_id, c.organization_id);
    if (!org) co_return storage_error(org.error());
    auto access = issue_access_token(st, c.user_id, client.client_id, c.scope, (*user)->role, c.grant_id, *org, jkt);
    if (!access) co_return oauth_error(oauth_errc::server_error, "");
    auto body = boost::json::parse(fs::token_response_body(*access, st.config.access_token_ttl, c.scope, {}, !jkt.empty())).as_object();
    if (fs::wants_refresh_token(client, c.scope)) {
        auto minted = co_await mint_refresh_token(st, client.client_id, c.user_id, c.scope, c.grant_id, org->id,
                                                  refresh_binding(client, jkt));
        if (!minted) co_return storage_error(minted.error());
        body["refresh_token"] = minted->reveal();
    }
    if (auto ec = add_id_token(st, body, **user, client.client_id, c.nonce, c.scope, *org)) co_return storage_error(ec);
    co_return token_response(body);
}

}  // namespace latchkey::idp
