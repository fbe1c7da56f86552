// Better Auth's two-factor plugin on latch-idp (/api/auth/two-factor/*), TOTP and backup
// codes, with what its users report fixed (server-anchors.md): a TOTP code is accepted once
// (the last used step is a compare-and-set in the store), backup codes are kept as keyed
// hashes and spent by one DELETE, and the TOTP key is sealed at rest under DATA/secret.key.
// Lockout: 5 wrong codes in a row lock the factor for 5 minutes (per user); every verify
// call also counts against the per-IP sign-in limit.
#include "better_auth.hpp"
#include "idp.hpp"
#include "pages.hpp"

#include <latchkey/flows/server/sealed.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>
#include <latchkey/flows/server/token_hash.hpp>
#include <latchkey/flows/server/totp.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

constexpr std::int64_t challenge_ttl = 600;         // Better Auth's twoFactorCookieMaxAge
constexpr std::int64_t trusted_ttl = 30 * 86400;    // trustDeviceMaxAge
constexpr const char* challenge_cookie = "two_factor";
constexpr const char* trust_cookie = "trust_device";
const fs::two_factor_lockout lockout{};

std::string key_context(const std::string& user_id) { return "totp:" + user_id; }

std::string backup_hash(const idp_state& st, const std::string& user_id, const std::string& canonical) {
    return fs::keyed_hash(st.sealing_key, "backup:" + user_id + ":" + canonical);
}

// Backup codes for `user_id`: what the user is shown, and what the store keeps.
std::pair<json::array, std::vector<std::string>> new_backup_codes(const idp_state& st, const std::string& user_id) {
    json::array shown;
    std::vector<std::string> hashes;
    for (const auto& code : fs::make_backup_codes()) {
        shown.emplace_back(code.reveal());
        hashes.push_back(backup_hash(st, user_id, *fs::canonical_backup_code(code.reveal())));
    }
    return {std::move(shown), std::move(hashes)};
}

// Who is verifying: a signed-in user (enrolment, from the session) or a sign-in waiting
// for its second factor (from the two_factor cookie).
struct verifier {
    std::optional<fs::user_record> user;
    std::optional<fs::two_factor_challenge> challenge;  // set: a sign-in
    std::string set_cookie;                              // the session's, when its expiry moved
    std::optional<http_response> refusal;
};

boost::asio::awaitable<verifier> find_verifier(idp_state& st, const ts::server_request& req) {
    verifier v;
    auto s = co_await current_session(st, req);
    if (!s) co_return verifier{.refusal = api_failure(s.error())};
    if (s->found) {
        v.user = s->found->user;
        v.set_cookie = std::move(s->set_cookie);
        co_return v;
    }
    const std::string raw = cookie_value(req, fs::auth_cookie_name(st.cookies, challenge_cookie));
    const auto invalid = api_error(401, "INVALID_TWO_FACTOR_COOKIE", "Invalid two factor cookie");
    if (raw.empty()) co_return verifier{.refusal = invalid};
    std::string hash = fs::hash_token(raw);
    auto c = co_await st.store.find_challenge(std::move(hash), unix_now());
    if (!c && c.error() != fs::server_errc::not_found) co_return verifier{.refusal = api_failure(c.error())};
    if (!c || c->kind != "sign-in") co_return verifier{.refusal = invalid};
    std::string id = c->user_id;
    auto u = co_await st.store.find_user_by_id(std::move(id));
    if (!u) co_return verifier{.refusal = invalid};
    v.user = std::move(*u);
    v.challenge = std::move(*c);
    co_return v;
}

// The second factor passed: for a sign-in, its challenge becomes a session (once), plus a
// trusted-device cookie when asked; for a signed-in user, just the answer.
boost::asio::awaitable<http_response> passed(idp_state& st, const ts::server_request& req, verifier& v,
                                             bool trust_device) {
    const json::object ok{{"token", nullptr}, {"user", user_json(*v.user)}};
    if (!v.challenge) co_return with_cookie(api_json(200, ok), std::move(v.set_cookie));
    std::string hash = v.challenge->token_hash;
    auto won = co_await st.store.delete_challenge(std::move(hash));
    if (!won) co_return api_failure(won.error());
    if (!*won) co_return api_error(401, "INVALID_TWO_FACTOR_COOKIE", "Invalid two factor cookie");
    auto cookie = co_await start_session(st, req, *v.user, v.challenge->remember);
    if (!cookie) co_return api_failure(cookie.error());
    auto r = with_cookie(api_json(200, ok), std::move(*cookie));
    r.headers.emplace_back("Set-Cookie", fs::auth_set_cookie(st.cookies, challenge_cookie, "", 0));
    if (trust_device) {
        const secret token = fs::make_opaque_token();
        fs::two_factor_challenge trusted{fs::hash_token(token.reveal()), v.user->id, "trusted-device", true,
                                         unix_now() + trusted_ttl};
        if (auto ec = co_await st.store.put_challenge(std::move(trusted))) co_return api_failure(ec);
        r.headers.emplace_back("Set-Cookie", fs::auth_set_cookie(st.cookies, trust_cookie, token.reveal(), trusted_ttl));
    }
    co_return r;
}

http_response locked() {
    return api_error(401, "ACCOUNT_TEMPORARILY_LOCKED",
                     "Too many failed verification attempts. Your account is temporarily locked. Please try again later.");
}

// A wrong code: counted towards the lockout; the answer says when it locked.
boost::asio::awaitable<http_response> failed(idp_state& st, const ts::server_request& req, login_method m,
                                             const std::string& user_id, std::string_view code,
                                             std::string_view message) {
    std::string id = user_id;
    auto row = co_await st.store.record_two_factor_failure(std::move(id), unix_now(), lockout);
    if (!row) co_return api_failure(row.error());
    const bool now_locked = row->locked_until > unix_now();
    note_sign_in(st, req, m, false, user_id, {}, now_locked ? "bad_code_locked" : "bad_code");
    if (now_locked) co_return locked();
    co_return api_error(401, code, message);
}

// A TOTP code of `row`'s user, spent once: the verdict, then the compare-and-set on the
// step (a concurrent submission of the same code loses it). false: wrong, replayed, lost.
boost::asio::awaitable<result<bool>> spend_totp(idp_state& st, const fs::two_factor_record& row,
                                                std::string_view key, std::string_view code, std::int64_t now) {
    const auto match = fs::check_totp(key, code, now, row.last_step);
    if (match.verdict != fs::totp_verdict::accepted) co_return false;
    std::string uid = row.user_id;
    co_return co_await st.store.accept_totp_step(std::move(uid), match.step, now);
}

// A backup code of `user_id`, spent once (one DELETE). false: malformed, unknown or used.
boost::asio::awaitable<result<bool>> spend_backup_code(idp_state& st, const std::string& user_id,
                                                       std::string_view code, std::int64_t now) {
    const auto canonical = fs::canonical_backup_code(code);
    if (!canonical) co_return false;
    std::string uid = user_id, hash = backup_hash(st, user_id, *canonical);
    co_return co_await st.store.consume_backup_code(std::move(uid), std::move(hash), now);
}

boost::asio::awaitable<http_response> verify_totp(idp_state& st, const ts::server_request& req,
                                                  const json::object& body) {
    auto v = co_await find_verifier(st, req);
    if (v.refusal) co_return std::move(*v.refusal);
    std::string id = v.user->id;
    auto row = co_await st.store.find_two_factor(std::move(id));
    if (!row && row.error() == fs::server_errc::not_found) co_return api_error(400, "TOTP_NOT_ENABLED", "TOTP not enabled");
    if (!row) co_return api_failure(row.error());
    if (v.challenge && !row->verified) co_return api_error(400, "TOTP_NOT_ENABLED", "TOTP not enabled");
    const auto now = unix_now();
    if (row->locked_until > now) {
        note_sign_in(st, req, login_method::totp, false, row->user_id, {}, "locked");
        co_return locked();
    }
    auto key = fs::unseal(st.sealing_key, row->sealed_key, key_context(row->user_id));
    if (!key) co_return api_error(500, "INTERNAL_SERVER_ERROR", "The two-factor key cannot be read (wrong secret.key?)");
    const auto code = string_field(body, "code").value_or("");
    auto won = co_await spend_totp(st, *row, key->reveal(), code, now);
    if (!won) co_return api_failure(won.error());
    if (!*won) co_return co_await failed(st, req, login_method::totp, row->user_id, "INVALID_CODE", "Invalid code");
    note_sign_in(st, req, login_method::totp, true, row->user_id, {});
    co_return co_await passed(st, req, v, bool_field(body, "trustDevice", false));
}

boost::asio::awaitable<http_response> verify_backup_code(idp_state& st, const ts::server_request& req,
                                                         const json::object& body) {
    auto v = co_await find_verifier(st, req);
    if (v.refusal) co_return std::move(*v.refusal);
    std::string id = v.user->id;
    auto row = co_await st.store.find_two_factor(std::move(id));
    if (!row || !row->verified) co_return api_error(400, "TWO_FACTOR_NOT_ENABLED", "Two factor isn't enabled");
    const auto now = unix_now();
    if (row->locked_until > now) {
        note_sign_in(st, req, login_method::backup_code, false, row->user_id, {}, "locked");
        co_return locked();
    }
    const auto code = string_field(body, "code").value_or("");
    auto spent = co_await spend_backup_code(st, row->user_id, code, now);
    if (!spent) co_return api_failure(spent.error());
    if (!*spent)
        co_return co_await failed(st, req, login_method::backup_code, row->user_id, "INVALID_BACKUP_CODE",
                                  "Invalid backup code");
    note_sign_in(st, req, login_method::backup_code, true, row->user_id, {});
    co_return co_await passed(st, req, v, bool_field(body, "trustDevice", false));
}

// The signed-in user, with their password checked again (enable, disable, get-totp-uri,
// generate-backup-codes ask for it, as Better Auth does).
struct reauthenticated {
    std::optional<fs::user_record> user;
    std::optional<http_response> refusal;
};

boost::asio::awaitable<reauthenticated> reauthenticate(idp_state& st, const ts::server_request& req,
                                                       const json::object& body) {
    auto s = co_await current_session(st, req);
    if (!s) co_return reauthenticated{{}, api_failure(s.error())};
    if (!s->found) co_return reauthenticated{{}, api_error(401, "UNAUTHORIZED", "Unauthorized")};
    std::string name = s->found->user.username;
    secret password(string_field(body, "password").value_or(""));
    auto user = co_await check_password(st, std::move(name), std::move(password));
    if (!user) co_return reauthenticated{{}, api_failure(user.error())};
    if (!*user) {
        note_event(st, &req, {.event = "reauthenticate", .ok = false, .user_id = s->found->user.id,
                              .username = s->found->user.username, .reason = "bad_password"});
        co_return reauthenticated{{}, api_error(400, "INVALID_PASSWORD", "Invalid password")};
    }
    co_return reauthenticated{std::move(*user), {}};
}

std::string account_name(const fs::user_record& u) { return u.email.empty() ? u.username : u.email; }

boost::asio::awaitable<http_response> enable(idp_state& st, const fs::user_record& user, const json::object& body) {
    std::string id = user.id;
    auto existing = co_await st.store.find_two_factor(std::move(id));
    if (existing && existing->verified) co_return api_error(400, "TOTP_ALREADY_ENABLED", "TOTP is already enabled");
    if (!existing && existing.error() != fs::server_errc::not_found) co_return api_failure(existing.error());
    const secret key = fs::make_totp_key();
    auto [shown, hashes] = new_backup_codes(st, user.id);
    fs::two_factor_record row{user.id, fs::seal(st.sealing_key, key.reveal(), key_context(user.id)), false, -1, 0, 0,
                              unix_now()};
    if (auto ec = co_await st.store.put_two_factor(std::move(row), std::move(hashes))) co_return api_failure(ec);
    const auto issuer = string_field(body, "issuer").value_or(st.config.issuer);
    co_return api_json(200, json::object{{"totpURI", fs::otpauth_uri(issuer, account_name(user), key.reveal())},
                                         {"backupCodes", std::move(shown)}});
}

boost::asio::awaitable<http_response> account_call(idp_state& st, const ts::server_request& req,
                                                   std::string_view path, const json::object& body) {
    auto who = co_await reauthenticate(st, req, body);
    if (who.refusal) co_return std::move(*who.refusal);
    const auto& user = *who.user;
    if (path == "/two-factor/enable") {
        auto r = co_await enable(st, user, body);
        if (r.status == 200) note_event(st, &req, {.event = "two_factor_enable", .user_id = user.id, .username = user.username});
        co_return r;
    }
    std::string id = user.id;
    if (path == "/two-factor/disable") {
        if (auto ec = co_await st.store.delete_two_factor(std::move(id))) co_return api_failure(ec);
        note_event(st, &req, {.event = "two_factor_disable", .user_id = user.id, .username = user.username});
        co_return api_json(200, json::object{{"status", true}});
    }
    auto row = co_await st.store.find_two_factor(std::move(id));
    if (!row) co_return api_error(400, "TOTP_NOT_ENABLED", "TOTP not enabled");
    if (path == "/two-factor/get-totp-uri") {
        auto key = fs::unseal(st.sealing_key, row->sealed_key, key_context(user.id));
        if (!key) co_return api_error(500, "INTERNAL_SERVER_ERROR", "The two-factor key cannot be read");
        co_return api_json(200, json::object{{"totpURI", fs::otpauth_uri(st.config.issuer, account_name(user), key->reveal())}});
    }
    auto [shown, hashes] = new_backup_codes(st, user.id);
    std::string uid = user.id;
    if (auto ec = co_await st.store.replace_backup_codes(std::move(uid), std::move(hashes))) co_return api_failure(ec);
    note_event(st, &req, {.event = "backup_codes_regenerate", .user_id = user.id, .username = user.username});
    co_return api_json(200, json::object{{"status", true}, {"backupCodes", std::move(shown)}});
}

}  // namespace

boost::asio::awaitable<result<std::string>> page_second_factor(idp_state& st, const fs::user_record& user,
                                                               std::string_view typed) {
    std::string id = user.id;
    auto row = co_await st.store.find_two_factor(std::move(id));
    if (!row && row.error() == fs::server_errc::not_found) co_return std::string();
    if (!row) co_return row.error();
    if (!row->verified) co_return std::string();
    const auto now = unix_now();
    if (row->locked_until > now)
        co_return std::string("Too many wrong codes: two-factor sign-in is locked for a few minutes.");
    std::string code;
    for (char c : typed)
        if (c != ' ') code += c;
    if (code.empty()) co_return std::string("Enter the 6-digit code from your authenticator app (or a backup code).");
    // Six digits: a TOTP code; anything else: a backup code.
    result<bool> ok = false;
    if (code.size() == 6) {
        if (auto key = fs::unseal(st.sealing_key, row->sealed_key, key_context(row->user_id)))
            ok = co_await spend_totp(st, *row, key->reveal(), code, now);
    } else {
        ok = co_await spend_backup_code(st, row->user_id, code, now);
    }
    if (!ok) co_return ok.error();
    if (*ok) co_return std::string();
    std::string uid = row->user_id;
    auto after = co_await st.store.record_two_factor_failure(std::move(uid), now, lockout);
    if (!after) co_return after.error();
    if (after->locked_until > now) co_return std::string("Too many wrong codes: two-factor sign-in is locked for a few minutes.");
    co_return std::string("Wrong or already used code. Enter the current code from your authenticator app.");
}

boost::asio::awaitable<result<std::optional<std::string>>> begin_second_factor(idp_state& st,
                                                                            const ts::server_request& req,
                                                                            const fs::user_record& user,
                                                                            bool remember) {
    std::string id = user.id;
    auto row = co_await st.store.find_two_factor(std::move(id));
    if (!row && row.error() == fs::server_errc::not_found) co_return std::optional<std::string>{};
    if (!row) co_return row.error();
    if (!row->verified) co_return std::optional<std::string>{};
    const std::string trusted = cookie_value(req, fs::auth_cookie_name(st.cookies, trust_cookie));
    if (!trusted.empty()) {
        std::string hash = fs::hash_token(trusted);
        auto t = co_await st.store.find_challenge(std::move(hash), unix_now());
        if (t && t->kind == "trusted-device" && t->user_id == user.id) co_return std::optional<std::string>{};
    }
    const secret token = fs::make_opaque_token();
    fs::two_factor_challenge c{fs::hash_token(token.reveal()), user.id, "sign-in", remember, unix_now() + challenge_ttl};
    if (auto ec = co_await st.store.put_challenge(std::move(c))) co_return ec;
    co_return std::optional<std::string>(fs::auth_set_cookie(st.cookies, challenge_cookie, token.reveal(), challenge_ttl));
}

boost::asio::awaitable<std::optional<http_response>> second_factor_gate(idp_state& st, const ts::server_request& req,
                                                                         const fs::user_record& user, bool remember) {
    auto cookie = co_await begin_second_factor(st, req, user, remember);
    if (!cookie) co_return api_failure(cookie.error());
    if (!*cookie) co_return std::nullopt;
    auto r = api_json(200, json::object{{"twoFactorRedirect", true}, {"twoFactorMethods", json::array{"totp"}}});
    r.headers.emplace_back("Set-Cookie", std::move(**cookie));
    co_return r;
}

boost::asio::awaitable<result<page_challenge_outcome>> complete_page_challenge(idp_state& st,
                                                                               const ts::server_request& req,
                                                                               std::string_view typed) {
    page_challenge_outcome out;
    const std::string raw = cookie_value(req, fs::auth_cookie_name(st.cookies, challenge_cookie));
    if (raw.empty()) co_return out;
    std::string hash = fs::hash_token(raw);
    auto c = co_await st.store.find_challenge(std::move(hash), unix_now());
    if (!c && c.error() != fs::server_errc::not_found) co_return c.error();
    if (!c || c->kind != "sign-in") co_return out;
    std::string id = c->user_id;
    auto user = co_await st.store.find_user_by_id(std::move(id));
    if (!user) co_return out;
    auto message = co_await page_second_factor(st, *user, typed);
    if (!message) co_return message.error();
    out.user = *user;
    if (!message->empty()) {
        note_sign_in(st, req, login_method::totp, false, user->id, user->username, "second_factor");
        out.message = std::move(*message);
        co_return out;
    }
    std::string challenge_hash = c->token_hash;
    auto won = co_await st.store.delete_challenge(std::move(challenge_hash));
    if (!won) co_return won.error();
    if (!*won) {
        out.user.reset();
        co_return out;
    }
    auto cookie = co_await start_session(st, req, *user, c->remember);
    if (!cookie) co_return cookie.error();
    note_sign_in(st, req, login_method::totp, true, user->id, user->username);
    out.set_cookies = {std::move(*cookie), fs::auth_set_cookie(st.cookies, challenge_cookie, "", 0)};
    co_return out;
}

boost::asio::awaitable<http_response> two_factor_api(idp_state& st, const ts::server_request& req,
                                                     std::string_view path, const json::object& body) {
    const bool verify = path == "/two-factor/verify-totp" || path == "/two-factor/verify-backup-code";
    if (verify) {
        const bool allowed = co_await allow_sign_in(st, req);
        if (!allowed) co_return api_error(429, "TOO_MANY_REQUESTS", "Too many requests. Please try again later.");
        if (path == "/two-factor/verify-totp") co_return co_await verify_totp(st, req, body);
        co_return co_await verify_backup_code(st, req, body);
    }
    if (path == "/two-factor/enable" || path == "/two-factor/disable" || path == "/two-factor/get-totp-uri" ||
        path == "/two-factor/generate-backup-codes")
        co_return co_await account_call(st, req, path, body);
    co_return api_error(404, "NOT_FOUND", "Not found");
}

}  // namespace latchkey::idp
