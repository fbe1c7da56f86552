// Better Auth's admin plugin, user management (/api/auth/admin/*; issue 14): get-user,
// create-user, update-user, remove-user, set-user-password, list-user-sessions,
// revoke-user-session and has-permission. admin_plugin.cpp checks the caller (an admin's
// session; has-permission: any session) and routes here. Every change is an audit line.
// Passwords are hashed on the hashing pool and never echoed; a removed user's sessions,
// refresh tokens, second factor and consents go with the row (ON DELETE CASCADE).
#include "better_auth.hpp"
#include "idp.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <array>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

http_response user_not_found() { return api_error(404, "USER_NOT_FOUND", "User not found"); }

// The user `body`'s userId names; the error answer otherwise.
struct target_user {
    std::optional<fs::user_record> user;
    std::optional<http_response> error;
};
boost::asio::awaitable<target_user> find_target(idp_state& st, const json::object& body) {
    auto id = string_field(body, "userId");
    if (!id || id->empty()) co_return target_user{std::nullopt, api_error(400, "VALIDATION_ERROR", "userId is missing")};
    std::string key = *id;
    auto user = co_await st.store.find_user_by_id(std::move(key));
    if (!user && user.error() == fs::server_errc::not_found) co_return target_user{std::nullopt, user_not_found()};
    if (!user) co_return target_user{std::nullopt, api_failure(user.error())};
    co_return target_user{std::move(*user), std::nullopt};
}

void audit(idp_state& st, const ts::server_request& req, std::string_view event, const fs::user_record& admin,
           const fs::user_record& target) {
    note_event(st, &req, {.event = event, .user_id = target.id, .username = target.username, .reason = admin.id});
}

// GET get-user?id=ID: the user object.
boost::asio::awaitable<http_response> get_user(idp_state& st, const ts::server_request& req) {
    auto q = fs::form::parse(req.query());
    std::string id = q ? std::string(q->value_or_empty("id")) : std::string();
    if (id.empty()) co_return api_error(400, "VALIDATION_ERROR", "id is missing");
    auto user = co_await st.store.find_user_by_id(std::move(id));
    if (!user && user.error() == fs::server_errc::not_found) co_return user_not_found();
    if (!user) co_return api_failure(user.error());
    co_return api_json(200, user_json(*user));
}

// create-user {email, password, name, role?}: {user}.
boost::asio::awaitable<http_response> create_user(idp_state& st, const ts::server_request& req,
                                                  const json::object& body, const fs::user_record& admin) {
    auto fields = new_user_fields_of(body);
    if (auto* refused = std::get_if<http_response>(&fields)) co_return std::move(*refused);
    auto& f = std::get<new_user_fields>(fields);
    std::string role(fs::default_role);
    if (body.contains("role")) {
        auto r = admin_role_field(body);
        if (!r)
            co_return api_error(400, "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
                                "You are not allowed to set a non-existent role value");
        role = *r;
    }
    secret pw(std::move(f.password));
    auto hash = co_await st.hasher.async_hash(std::move(pw));
    if (!hash) co_return api_failure(hash.error());
    fs::user_record user{random_urlsafe(16), f.email, std::move(*hash), unix_now(), std::move(f.name), f.email};
    user.role = role;
    if (auto ec = co_await st.store.put_user(user)) {
        if (ec == fs::server_errc::already_exists)
            co_return api_error(400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
        co_return api_failure(ec);
    }
    audit(st, req, "admin_user_create", admin, user);
    co_return api_json(200, json::object{{"user", user_json(user)}});
}

// update-user {userId, data: {name?, email?, role?}}: the user object.
boost::asio::awaitable<http_response> update_user(idp_state& st, const ts::server_request& req,
                                                  const json::object& body, const fs::user_record& admin) {
    const auto* data = body.contains("data") ? body.at("data").if_object() : nullptr;
    if (!data || data->empty()) co_return api_error(400, "NO_DATA_TO_UPDATE", "No data to update");
    if (data->contains("password"))
        co_return api_error(400, "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER",
                            "Password cannot be updated through update-user. Use the set-user-password endpoint instead");
    for (const auto& kv : *data)
        if (kv.key() != "name" && kv.key() != "email" && kv.key() != "role")
            co_return api_error(400, "VALIDATION_ERROR", "Only name, email and role can be updated here");
    auto target = co_await find_target(st, body);
    if (target.error) co_return std::move(*target.error);
    fs::user_record u = std::move(*target.user);
    if (data->contains("name")) {
        auto name = string_field(*data, "name");
        if (!name || name->size() > 256) co_return api_error(400, "VALIDATION_ERROR", "name must be a short string");
        u.name = *name;
    }
    if (data->contains("email")) {
        auto email = fs::canonical_email(string_field(*data, "email").value_or(""));
        if (!email) co_return api_error(400, "INVALID_EMAIL", "Invalid email");
        if (u.username == u.email) u.username = *email;  // users who sign in with their email
        u.email = *email;
    }
    std::optional<std::string> role;
    if (data->contains("role")) {
        role = admin_role_field(*data);
        if (!role)
            co_return api_error(400, "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
                                "You are not allowed to set a non-existent role value");
    }
    fs::user_record changed = u;
    if (auto ec = co_await st.store.update_user(std::move(changed))) {
        if (ec == fs::server_errc::already_exists)
            co_return api_error(400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
        if (ec == fs::server_errc::not_found) co_return user_not_found();
        co_return api_failure(ec);
    }
    if (role) {
        std::string id = u.id, r = *role;
        if (auto ec = co_await st.store.set_user_role(std::move(id), std::move(r))) co_return api_failure(ec);
        u.role = *role;
    }
    audit(st, req, "admin_user_update", admin, u);
    co_return api_json(200, user_json(u));
}

// remove-user {userId}: {success: true}. Not oneself.
boost::asio::awaitable<http_response> remove_user(idp_state& st, const ts::server_request& req,
                                                  const json::object& body, const fs::user_record& admin) {
    if (string_field(body, "userId").value_or("") == admin.id)
        co_return api_error(400, "YOU_CANNOT_REMOVE_YOURSELF", "You cannot remove yourself");
    auto target = co_await find_target(st, body);
    if (target.error) co_return std::move(*target.error);
    std::string username = target.user->username;
    auto ec = co_await st.store.delete_user(std::move(username));
    if (ec == fs::server_errc::not_found) co_return user_not_found();
    if (ec) co_return api_failure(ec);
    audit(st, req, "admin_user_remove", admin, *target.user);
    co_return api_json(200, json::object{{"success", true}});
}

// set-user-password {userId, newPassword}: {status: true}.
boost::asio::awaitable<http_response> set_user_password(idp_state& st, const ts::server_request& req,
                                                        const json::object& body, const fs::user_record& admin) {
    auto password = string_field(body, "newPassword").value_or("");
    if (password.empty()) co_return api_error(400, "VALIDATION_ERROR", "newPassword cannot be empty");
    if (auto refused = password_refusal(password)) co_return std::move(*refused);
    auto target = co_await find_target(st, body);
    if (target.error) co_return std::move(*target.error);
    secret pw(std::move(password));
    auto hash = co_await st.hasher.async_hash(std::move(pw));
    if (!hash) co_return api_failure(hash.error());
    fs::user_record u = *target.user;
    u.password_hash = std::move(*hash);
    auto ec = co_await st.store.update_user(std::move(u));
    if (ec == fs::server_errc::not_found) co_return user_not_found();
    if (ec) co_return api_failure(ec);
    audit(st, req, "admin_set_password", admin, *target.user);
    co_return api_json(200, json::object{{"status", true}});
}

// list-user-sessions {userId}: {sessions: [...]}.
boost::asio::awaitable<http_response> list_user_sessions(idp_state& st, const json::object& body) {
    auto target = co_await find_target(st, body);
    if (target.error) co_return std::move(*target.error);
    std::string id = target.user->id;
    auto all = co_await st.store.list_sessions(std::move(id), unix_now());
    if (!all) co_return api_failure(all.error());
    json::array out;
    for (const auto& s : *all) out.push_back(session_json(s));
    co_return api_json(200, json::object{{"sessions", std::move(out)}});
}

// revoke-user-session {sessionToken}: the id list-user-sessions gave, or a raw session token.
boost::asio::awaitable<http_response> revoke_user_session(idp_state& st, const ts::server_request& req,
                                                          const json::object& body, const fs::user_record& admin) {
    auto token = string_field(body, "sessionToken");
    if (!token || token->empty()) co_return api_error(400, "VALIDATION_ERROR", "sessionToken is missing");
    std::string handle = *token, anyone;
    auto gone = co_await st.store.delete_session(std::move(handle), std::move(anyone));
    if (gone && !*gone) {
        std::string hash = fs::hash_token(*token), owner;
        gone = co_await st.store.delete_session(std::move(hash), std::move(owner));
    }
    if (!gone) co_return api_failure(gone.error());
    note_event(st, &req, {.event = "admin_session_revoke", .outcome = *gone ? "revoked" : "not_found",
                          .reason = admin.id});
    co_return api_json(200, json::object{{"success", true}});
}

}  // namespace

// Better Auth's default access statements: what the admin roles may do. Plain users: nothing.
bool admin_statement_allows(std::string_view resource, std::string_view action) {
    static constexpr std::array<std::string_view, 9> user_actions{"create", "list", "set-role", "ban", "impersonate",
                                                                  "delete", "set-password", "get", "update"};
    static constexpr std::array<std::string_view, 3> session_actions{"list", "revoke", "delete"};
    if (resource == "user") return std::find(user_actions.begin(), user_actions.end(), action) != user_actions.end();
    if (resource == "session")
        return std::find(session_actions.begin(), session_actions.end(), action) != session_actions.end();
    return false;
}

// has-permission {permissions: {resource: [action...]}} (or `permission`): the caller's role.
http_response has_permission(const json::object& body, const fs::user_record& user) {
    const json::object* asked = nullptr;
    for (const char* key : {"permissions", "permission"})
        if (auto it = body.find(key); it != body.end() && it->value().is_object()) asked = &it->value().as_object();
    if (!asked || asked->empty())
        return api_error(400, "VALIDATION_ERROR", "permissions is missing");
    bool allowed = fs::is_admin_role(user.role);
    for (const auto& kv : *asked) {
        const auto* actions = kv.value().if_array();
        if (!actions) return api_error(400, "VALIDATION_ERROR", "each permission is a list of actions");
        for (const auto& a : *actions) {
            if (!a.is_string()) return api_error(400, "VALIDATION_ERROR", "each action is a string");
            allowed = allowed && admin_statement_allows(kv.key(), a.as_string());
        }
    }
    return api_json(200, json::object{{"error", nullptr}, {"success", allowed}});
}

boost::asio::awaitable<std::optional<http_response>> admin_user_operation(idp_state& st, const ts::server_request& req,
                                                                          std::string_view path,
                                                                          const json::object& body,
                                                                          const fs::user_record& admin) {
    if (path == "/admin/get-user") co_return co_await get_user(st, req);
    if (path == "/admin/create-user") co_return co_await create_user(st, req, body, admin);
    if (path == "/admin/update-user") co_return co_await update_user(st, req, body, admin);
    if (path == "/admin/remove-user") co_return co_await remove_user(st, req, body, admin);
    if (path == "/admin/set-user-password") co_return co_await set_user_password(st, req, body, admin);
    if (path == "/admin/list-user-sessions") co_return co_await list_user_sessions(st, body);
    if (path == "/admin/revoke-user-session") co_return co_await revoke_user_session(st, req, body, admin);
    co_return std::nullopt;
}

}  // namespace latchkey::idp
