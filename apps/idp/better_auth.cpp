// Better Auth's core endpoints (/api/auth/*) with the shapes Better Auth answers, so that its
// own client library (`createAuthClient`) works against latch-idp: email/password sign-up and
// sign-in, get-session (and the seed's /api/auth/session), sign-out, list and revoke sessions.
// Differences, on purpose: session tokens are stored hashed and never handed to page
// scripts (`token` is null in sign-in/up answers; a session's `id`/`token` is its hash, a
// handle for revoke-session), passwords are argon2id, and there is no cookie cache, so a
// revoked session stops working at once.
#include "better_auth.hpp"
#include "idp.hpp"
#include "pages.hpp"
#include "social.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

http_response api_json(int status, const json::value& v) {
    auto r = json_response(status, json::serialize(v));
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

// Better Auth's error shape: {"code": "...", "message": "..."}.
http_response api_error(int status, std::string_view code, std::string_view message) {
    auto r = api_json(status, json::object{{"code", code}, {"message", message}});
    if (status == 503 || status == 429) r.headers.emplace_back("Retry-After", status == 503 ? "1" : "60");
    return r;
}

http_response api_failure(error_code ec) {
    if (ec == fs::server_errc::busy) return api_error(503, "SERVICE_UNAVAILABLE", "Server busy, retry");
    return api_error(500, "INTERNAL_SERVER_ERROR", "Internal server error");
}

// With the admin plugin's fields: role, and the ban while it is in force (an expired ban
// reads as none, as Better Auth lifts it at the next sign-in).
json::object user_json(const fs::user_record& u) {
    const auto t = fs::iso8601(u.created_at);
    const bool banned = fs::ban_in_force(u, unix_now());
    json::value reason = banned ? json::value(u.ban_reason) : json::value(nullptr);
    json::value expires = banned && u.ban_expires != 0 ? json::value(fs::iso8601(u.ban_expires)) : json::value(nullptr);
    return {{"id", u.id},         {"email", u.email.empty() ? u.username : u.email},
            {"name", u.name},     {"image", nullptr},
            {"emailVerified", false}, {"createdAt", t},
            {"updatedAt", t},     {"role", u.role},
            {"banned", banned},   {"banReason", std::move(reason)},
            {"banExpires", std::move(expires)}};
}

json::object session_json(const fs::session_record& s) {
    json::value active = nullptr;
    if (!s.active_organization_id.empty()) active = s.active_organization_id;
    return {{"id", s.token_hash}, {"token", s.token_hash}, {"userId", s.user_id},
            {"expiresAt", fs::iso8601(s.expires_at)}, {"createdAt", fs::iso8601(s.created_at)},
            {"updatedAt", fs::iso8601(s.updated_at)}, {"ipAddress", s.ip}, {"userAgent", s.user_agent},
            {"activeOrganizationId", std::move(active)}};
}

// The JSON object body of a POST (an empty body is {}); nullopt: not JSON or not an object.
std::optional<json::object> json_body(const ts::server_request& req) {
    if (req.body.empty()) return json::object{};
    boost::system::error_code ec;
    auto v = json::parse(req.body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::optional<std::string> string_field(const json::object& o, std::string_view name) {
    auto it = o.find(name);
    if (it == o.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
}

bool bool_field(const json::object& o, std::string_view name, bool fallback) {
    auto it = o.find(name);
    return it == o.end() || !it->value().is_bool() ? fallback : it->value().as_bool();
}

bool remember_me(const json::object& o) {
    return bool_field(o, "rememberMe", true);
}

// A state-changing call's guards: Origin (CSRF), JSON body. nullopt: go on.
std::optional<http_response> refuse_post(const idp_state& st, const ts::server_request& req) {
    switch (fs::check_origin(req.header("Origin"), !req.header("Cookie").empty(), st.trusted_origins)) {
    case fs::origin_verdict::ok: break;
    case fs::origin_verdict::missing: return api_error(403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin");
    case fs::origin_verdict::untrusted: return api_error(403, "INVALID_ORIGIN", "Invalid origin");
    }
    // A cross-site form can post text/plain without a preflight; JSON needs CORS, which we never grant.
    if (!req.body.empty() && req.header("Content-Type").rfind("application/json", 0) != 0)
        return api_error(415, "UNSUPPORTED_MEDIA_TYPE", "Expected application/json");
    return std::nullopt;
}

std::optional<http_response> password_refusal(std::string_view password) {
    constexpr std::size_t min_password = 8, max_password = 128;
    if (password.size() < min_password) return api_error(400, "PASSWORD_TOO_SHORT", "Password too short");
    if (password.size() > max_password) return api_error(400, "PASSWORD_TOO_LONG", "Password too long");
    return std::nullopt;
}

std::variant<new_user_fields, http_response> new_user_fields_of(const json::object& body) {
    auto email = fs::canonical_email(string_field(body, "email").value_or(""));
    if (!email) return api_error(400, "INVALID_EMAIL", "Invalid email");
    new_user_fields f{std::move(*email), string_field(body, "password").value_or(""),
                      string_field(body, "name").value_or("")};
    if (auto refused = password_refusal(f.password)) return std::move(*refused);
    if (f.name.size() > 256) return api_error(400, "VALIDATION_ERROR", "name is too long");
    return f;
}

// Answer with `body` and the user's new session cookie.
http_response with_cookie(http_response r, std::string set_cookie) {
    if (!set_cookie.empty()) r.headers.emplace_back("Set-Cookie", std::move(set_cookie));
    return r;
}

namespace {

boost::asio::awaitable<http_response> sign_up(idp_state& st, const ts::server_request& req, const json::object& body) {
    auto fields = new_user_fields_of(body);
    if (auto* refused = std::get_if<http_response>(&fields)) co_return std::move(*refused);
    auto& f = std::get<new_user_fields>(fields);
    secret pw(std::move(f.password));
    auto hash = co_await st.hasher.async_hash(std::move(pw));
    if (!hash) co_return api_failure(hash.error());
    fs::user_record user{random_urlsafe(16), f.email, std::move(*hash), unix_now(), std::move(f.name), f.email};
    if (auto ec = co_await st.store.put_user(user)) {
        if (ec == fs::server_errc::already_exists) {
            note_event(st, &req, {.event = "sign_up", .ok = false, .username = f.email, .reason = "already_exists"});
            co_return api_error(422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
        }
        co_return api_failure(ec);
    }
    note_event(st, &req, {.event = "sign_up", .user_id = user.id, .username = f.email});
    auto cookie = co_await start_session(st, req, user, remember_me(body));
    if (!cookie) co_return api_failure(cookie.error());
    co_return with_cookie(api_json(200, json::object{{"token", nullptr}, {"user", user_json(user)}}), *cookie);
}

boost::asio::awaitable<http_response> sign_in(idp_state& st, const ts::server_request& req, const json::object& body) {
    auto given = string_field(body, "email").value_or("");
    // Accounts made by `latch-idp user add` may have a plain user name.
    std::string account = fs::canonical_email(given).value_or(given);
    secret password(string_field(body, "password").value_or(""));
    auto user = co_await check_password(st, std::move(account), std::move(password));
    if (!user) co_return api_failure(user.error());
    if (!*user) {
        note_sign_in(st, req, login_method::password, false, {}, given, "bad_password");
        co_return api_error(401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    }
    if (fs::ban_in_force(**user, unix_now())) co_return api_error(403, "BANNED_USER", fs::banned_message(**user));
    auto second = co_await second_factor_gate(st, req, **user, remember_me(body));
    if (second) {
        if (second->status == 200)
            note_event(st, &req, {.event = "sign_in", .outcome = "second_factor_required", .user_id = (*user)->id,
                                  .username = (*user)->username});
        co_return std::move(*second);
    }
    auto cookie = co_await start_session(st, req, **user, remember_me(body));
    if (!cookie) co_return api_failure(cookie.error());
    note_sign_in(st, req, login_method::password, true, (*user)->id, (*user)->username);
    co_return with_cookie(api_json(200, json::object{{"redirect", false}, {"token", nullptr}, {"user", user_json(**user)}}),
                          *cookie);
}

// get-session: {session, user} or null; the seed's /session: {"session": null} when signed out.
boost::asio::awaitable<http_response> get_session(idp_state& st, const ts::server_request& req, bool seed_shape) {
    auto s = co_await current_session(st, req);
    if (!s) co_return api_failure(s.error());
    if (!s->found) co_return api_json(200, seed_shape ? json::value(json::object{{"session", nullptr}}) : json::value());
    co_return with_cookie(api_json(200, json::object{{"session", session_json(s->found->session)},
                                                     {"user", user_json(s->found->user)}}),
                          std::move(s->set_cookie));
}

boost::asio::awaitable<http_response> sign_out(idp_state& st, const ts::server_request& req) {
    const std::string token = cookie_value(req, fs::session_cookie_name(st.cookies));
    if (!token.empty()) {
        std::string hash = fs::hash_token(token), anyone;
        auto gone = co_await st.store.delete_session(std::move(hash), std::move(anyone));
        if (!gone) co_return api_failure(gone.error());
    }
    co_return with_cookie(api_json(200, json::object{{"success", true}}), fs::session_clear_cookie(st.cookies));
}

boost::asio::awaitable<http_response> list_sessions(idp_state& st, const fs::user_record& user) {
    std::string owner = user.id;
    const auto now = unix_now();
    auto all = co_await st.store.list_sessions(std::move(owner), now);
    if (!all) co_return api_failure(all.error());
    json::array out;
    for (const auto& s : *all) out.push_back(session_json(s));
    co_return api_json(200, out);
}

// revoke-session {token}: the `token` (= id) list-sessions gave, or a raw session token.
boost::asio::awaitable<http_response> revoke_session(idp_state& st, const fs::user_record& user,
                                                     const json::object& body) {
    auto token = string_field(body, "token");
    if (!token || token->empty()) co_return api_error(400, "VALIDATION_ERROR", "token is missing");
    std::string handle = *token, owner = user.id;
    auto gone = co_await st.store.delete_session(std::move(handle), std::move(owner));
    if (gone && !*gone) {
        std::string hash = fs::hash_token(*token);
        owner = user.id;
        gone = co_await st.store.delete_session(std::move(hash), std::move(owner));
    }
    if (!gone) co_return api_failure(gone.error());
    co_return api_json(200, json::object{{"status", true}});
}

}  // namespace

boost::asio::awaitable<http_response> better_auth(idp_state& st, const ts::server_request& req) {
    const auto path = req.path().substr(std::string_view("/api/auth").size());
    const bool get = req.method == http_method::get, post = req.method == http_method::post;
    if (path == "/get-session" && (get || post)) co_return co_await get_session(st, req, false);
    if (path == "/session" && get) co_return co_await get_session(st, req, true);
    if (path == "/list-sessions" && get) {
        auto s = co_await current_session(st, req);
        if (!s) co_return api_failure(s.error());
        if (!s->found) co_return api_error(401, "UNAUTHORIZED", "Unauthorized");
        auto listed = co_await list_sessions(st, s->found->user);
        co_return with_cookie(std::move(listed), std::move(s->set_cookie));
    }
    if (path.rfind("/admin/", 0) == 0) co_return co_await admin_api(st, req, path);
    if (is_social_path(path)) co_return co_await social_api(st, req, path);
    if (path.rfind("/organization/", 0) == 0) co_return co_await organization_api(st, req, path);
    const bool two_factor = path.rfind("/two-factor/", 0) == 0;
    const bool account = is_account_path(path);
    const bool known = path == "/sign-up/email" || path == "/sign-in/email" || path == "/sign-out" ||
                       path == "/revoke-session" || two_factor || account;
    if (!known) co_return api_error(404, "NOT_FOUND", "Not found");
    if (!post) co_return api_error(405, "METHOD_NOT_ALLOWED", "Use POST");
    if (auto refused = refuse_post(st, req)) co_return std::move(*refused);
    auto body = json_body(req);
    if (!body) co_return api_error(400, "INVALID_JSON", "The body is not a JSON object");
    if (path == "/sign-out") co_return co_await sign_out(st, req);
    if (two_factor) co_return co_await two_factor_api(st, req, path, *body);
    if (account) co_return co_await account_api(st, req, path, *body);
    if (path == "/revoke-session") {
        auto s = co_await current_session(st, req);
        if (!s) co_return api_failure(s.error());
        if (!s->found) co_return api_error(401, "UNAUTHORIZED", "Unauthorized");
        co_return co_await revoke_session(st, s->found->user, *body);
    }
    const bool allowed = co_await allow_sign_in(st, req);
    if (!allowed) co_return api_error(429, "TOO_MANY_REQUESTS", "Too many requests. Please try again later.");
    if (path == "/sign-up/email") co_return co_await sign_up(st, req, *body);
    co_return co_await sign_in(st, req, *body);
}

}  // namespace latchkey::idp
