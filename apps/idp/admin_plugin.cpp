// Better Auth's admin plugin (/api/auth/admin/*) for platform roles (issue 14): list users,
// set a role, ban (with reason and expiry) and unban, revoke a user's sessions. Only a session
// whose user holds an admin role (roles.hpp: "admin" or "platform-admin") may call them; others
// get 403 with the plugin's error code, no session 401. A ban deletes the user's sessions and
// revokes their refresh tokens in one transaction; sign-in then answers BANNED_USER.
#include "better_auth.hpp"
#include "idp.hpp"

#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>

#include <boost/json.hpp>

#include <cstdio>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

// The plugin's 403 for each operation (ADMIN_ERROR_CODES); GET or POST; has-permission is
// open to every signed-in user (it answers for the caller's own role).
struct operation {
    std::string_view path, forbidden_code, forbidden_message;
    bool get = false, any_user = false;
};
constexpr operation operations[] = {
    {"/admin/list-users", "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS", "You are not allowed to list users", true},
    {"/admin/get-user", "YOU_ARE_NOT_ALLOWED_TO_GET_USER", "You are not allowed to get user", true},
    {"/admin/set-role", "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE", "You are not allowed to change users role"},
    {"/admin/ban-user", "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS", "You are not allowed to ban users"},
    {"/admin/unban-user", "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS", "You are not allowed to ban users"},
    {"/admin/revoke-user-sessions", "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
     "You are not allowed to revoke users sessions"},
    {"/admin/revoke-user-session", "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
     "You are not allowed to revoke users sessions"},
    {"/admin/list-user-sessions", "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
     "You are not allowed to list users sessions"},
    {"/admin/create-user", "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS", "You are not allowed to create users"},
    {"/admin/update-user", "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS", "You are not allowed to update users"},
    {"/admin/remove-user", "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS", "You are not allowed to delete users"},
    {"/admin/set-user-password", "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
     "You are not allowed to set users password"},
    {"/admin/has-permission", "", "", false, true},
};

const operation* find_operation(std::string_view path) {
    for (const auto& op : operations)
        if (op.path == path) return &op;
    return nullptr;
}

http_response user_not_found() { return api_error(404, "USER_NOT_FOUND", "User not found"); }

// {"user": ...} after a change, read back from the store.
boost::asio::awaitable<http_response> answer_user(idp_state& st, error_code changed, std::string user_id) {
    if (changed == fs::server_errc::not_found) co_return user_not_found();
    if (changed) co_return api_failure(changed);
    auto user = co_await st.store.find_user_by_id(std::move(user_id));
    if (!user && user.error() == fs::server_errc::not_found) co_return user_not_found();
    if (!user) co_return api_failure(user.error());
    co_return api_json(200, json::object{{"user", user_json(*user)}});
}

boost::asio::awaitable<http_response> list_users(idp_state& st, const ts::server_request& req) {
    auto q = fs::form::parse(req.query());
    std::optional<fs::page_bounds> page;
    if (q) page = fs::parse_page(q->value_or_empty("limit"), q->value_or_empty("offset"));
    if (!page) co_return api_error(400, "VALIDATION_ERROR", "limit and offset must be non-negative integers");
    auto found = co_await st.store.page_users(page->limit, page->offset);
    if (!found) co_return api_failure(found.error());
    json::array users;
    for (const auto& u : found->users) users.push_back(user_json(u));
    co_return api_json(200, json::object{{"users", std::move(users)}, {"total", found->total},
                                         {"limit", page->limit}, {"offset", page->offset}});
}

boost::asio::awaitable<http_response> set_role(idp_state& st, const json::object& body, std::string user_id) {
    auto role = admin_role_field(body);
    if (!role)
        co_return api_error(400, "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
                            "You are not allowed to set a non-existent role value");
    std::string id = user_id, r = *role;
    auto changed = co_await st.store.set_user_role(std::move(id), std::move(r));
    co_return co_await answer_user(st, changed, std::move(user_id));
}

// ban-user {userId, banReason?, banExpiresIn? (seconds)}.
boost::asio::awaitable<http_response> ban_user(idp_state& st, const json::object& body, std::string user_id,
                                               const fs::user_record& admin) {
    if (user_id == admin.id) co_return api_error(400, "YOU_CANNOT_BAN_YOURSELF", "You cannot ban yourself");
    std::string reason = string_field(body, "banReason").value_or("");
    if (reason.empty()) reason = "No reason";
    if (reason.size() > 512) co_return api_error(400, "VALIDATION_ERROR", "banReason is too long");
    const auto now = unix_now();
    std::int64_t expires_in = 0;
    if (auto it = body.find("banExpiresIn"); it != body.end() && !it->value().is_null()) {
        const auto* n = it->value().if_int64();
        if (!n) co_return api_error(400, "VALIDATION_ERROR", "banExpiresIn must be a whole number of seconds");
        expires_in = *n;
    }
    auto until = fs::ban_end(expires_in, now);
    if (!until) co_return api_error(400, "VALIDATION_ERROR", "banExpiresIn is out of range");
    std::string id = user_id;
    auto changed = co_await st.store.ban_user(std::move(id), std::move(reason), *until, now);
    if (!changed)
        std::fprintf(stderr, "latch-idp: user %s banned by admin %s\n", escape_untrusted(user_id, 100).c_str(),
                     escape_untrusted(admin.id, 100).c_str());
    co_return co_await answer_user(st, changed, std::move(user_id));
}

boost::asio::awaitable<http_response> post_operation(idp_state& st, std::string_view path, const json::object& body,
                                                     const fs::user_record& admin) {
    auto user_id = string_field(body, "userId");
    if (!user_id || user_id->empty()) co_return api_error(400, "VALIDATION_ERROR", "userId is missing");
    std::string id = *user_id, target = *user_id;
    if (path == "/admin/set-role") co_return co_await set_role(st, body, std::move(target));
    if (path == "/admin/ban-user") co_return co_await ban_user(st, body, std::move(target), admin);
    if (path == "/admin/unban-user") {
        auto changed = co_await st.store.unban_user(std::move(id));
        co_return co_await answer_user(st, changed, std::move(target));
    }
    auto gone = co_await st.store.delete_user_sessions(std::move(id));
    if (gone) co_return api_failure(gone);
    co_return api_json(200, json::object{{"success", true}});
}

}  // namespace

// set-role's and create-user's role: "name" | ["name", ...], known roles only.
std::optional<std::string> admin_role_field(const json::object& body) {
    auto it = body.find("role");
    if (it == body.end()) return std::nullopt;
    std::vector<std::string> names;
    if (it->value().is_string()) names.emplace_back(it->value().as_string());
    if (it->value().is_array())
        for (const auto& v : it->value().as_array()) {
            if (!v.is_string()) return std::nullopt;
            names.emplace_back(v.as_string());
        }
    auto joined = fs::join_roles(names);
    if (!joined || !fs::valid_role(*joined)) return std::nullopt;
    return joined;
}

boost::asio::awaitable<http_response> admin_api(idp_state& st, const ts::server_request& req, std::string_view path) {
    const auto* op = find_operation(path);
    if (!op) co_return api_error(404, "NOT_FOUND", "Not found");
    if (op->get && req.method != http_method::get) co_return api_error(405, "METHOD_NOT_ALLOWED", "Use GET");
    if (!op->get && req.method != http_method::post) co_return api_error(405, "METHOD_NOT_ALLOWED", "Use POST");
    std::optional<json::object> body;
    if (!op->get) {
        if (auto refused = refuse_post(st, req)) co_return std::move(*refused);
        body = json_body(req);
        if (!body) co_return api_error(400, "INVALID_JSON", "The body is not a JSON object");
    }
    auto s = co_await current_session(st, req);
    if (!s) co_return api_failure(s.error());
    if (!s->found) co_return api_error(401, "UNAUTHORIZED", "Unauthorized");
    if (!op->any_user && !fs::is_admin_role(s->found->user.role))
        co_return api_error(403, op->forbidden_code, op->forbidden_message);
    const fs::user_record admin = s->found->user;
    const json::object no_body;
    const json::object& args = body ? *body : no_body;
    // No co_await inside a conditional expression (GCC 12 coroutine bug).
    http_response answer;
    if (path == "/admin/list-users")
        answer = co_await list_users(st, req);
    else if (path == "/admin/has-permission")
        answer = has_permission(args, admin);
    else if (auto done = co_await admin_user_operation(st, req, path, args, admin))
        answer = std::move(*done);
    else
        answer = co_await post_operation(st, path, args, admin);
    co_return with_cookie(std::move(answer), std::move(s->set_cookie));
}

}  // namespace latchkey::idp
