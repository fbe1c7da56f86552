// Better Auth's organization plugin (/api/auth/organization/*): organizations (create,
// update, delete, list, get-full-organization, check-slug), the session's active organization
// (set-active), and the router to members and invitations. Same JSON shapes and error codes
// as Better Auth, so its `organizationClient()` works against latch-idp. Who may do what:
// flows/server/organization.hpp (platform admins manage every organization).
#include "organization.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

json::object org_json(const fs::organization_record& o) {
    json::value metadata = nullptr;
    if (!o.metadata.empty()) {
        boost::system::error_code ec;
        auto v = json::parse(o.metadata, ec);
        if (!ec) metadata = std::move(v);
    }
    return {{"id", o.id},
            {"name", o.name},
            {"slug", o.slug},
            {"logo", o.logo.empty() ? json::value(nullptr) : json::value(o.logo)},
            {"metadata", std::move(metadata)},
            {"createdAt", fs::iso8601(o.created_at)}};
}

json::object member_json(const fs::member_record& m) {
    return {{"id", m.id},
            {"organizationId", m.organization_id},
            {"userId", m.user_id},
            {"role", m.role},
            {"createdAt", fs::iso8601(m.created_at)},
            {"user", json::object{{"id", m.user_id}, {"name", m.user_name}, {"email", m.user_email}, {"image", nullptr}}}};
}

json::object invitation_json(const fs::invitation_record& i) {
    return {{"id", i.id},          {"organizationId", i.organization_id},      {"email", i.email},
            {"role", i.role},      {"status", i.status},                       {"inviterId", i.inviter_id},
            {"expiresAt", fs::iso8601(i.expires_at)}, {"createdAt", fs::iso8601(i.created_at)}};
}

http_response refusal(fs::org_verdict v, std::string_view code, std::string_view message) {
    if (v == fs::org_verdict::not_member)
        return api_error(403, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION", "User is not a member of the organization");
    if (v == fs::org_verdict::last_owner)
        return api_error(400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
                         "You cannot leave the organization as the only owner");
    return api_error(403, code, message);
}

std::string call_field(const org_call& c, std::string_view name) {
    if (auto v = string_field(c.body, name)) return *v;
    return std::string(c.query.value_or_empty(name));
}

boost::asio::awaitable<org_or_error> load_org(idp_state& st, const fs::user_record& user, std::string key, bool by_slug) {
    org_or_error out;
    auto found = co_await st.store.find_organization(std::move(key), by_slug);
    if (!found && found.error() == fs::server_errc::not_found) {
        out.error = api_error(400, "ORGANIZATION_NOT_FOUND", "Organization not found");
        co_return out;
    }
    if (!found) {
        out.error = api_failure(found.error());
        co_return out;
    }
    org_loaded o;
    o.view = std::move(*found);
    o.actor.platform_admin = fs::is_admin_role(user.role);
    for (const auto& m : o.view.members) {
        o.owners += m.role == "owner";
        if (m.user_id == user.id) {
            o.self = m;
            o.actor.role = fs::parse_org_role(m.role);
        }
    }
    out.org = std::move(o);
    co_return out;
}

boost::asio::awaitable<org_or_error> load_call_org(org_call& c) {
    std::string key = call_field(c, "organizationId");
    bool by_slug = false;
    if (key.empty() && !c.query.value_or_empty("organizationSlug").empty()) {
        key = std::string(c.query.value_or_empty("organizationSlug"));
        by_slug = true;
    }
    if (key.empty()) key = c.who.session.active_organization_id;
    if (key.empty()) {
        org_or_error out;
        out.error = api_error(400, "NO_ACTIVE_ORGANIZATION", "No active organization");
        co_return out;
    }
    co_return co_await load_org(c.st, c.who.user, std::move(key), by_slug);
}

namespace {

// metadata: a JSON object (kept as its text), or absent/null.
std::optional<std::string> metadata_text(const json::object& o) {
    auto it = o.find("metadata");
    if (it == o.end() || it->value().is_null()) return std::string{};
    if (!it->value().is_object()) return std::nullopt;
    auto text = json::serialize(it->value());
    if (text.size() > 8192) return std::nullopt;
    return text;
}

std::optional<http_response> check_fields(const fs::organization_record& o, bool metadata_ok) {
    if (!fs::valid_org_name(o.name)) return api_error(400, "VALIDATION_ERROR", "name must be 1-128 characters");
    if (!fs::valid_slug(o.slug))
        return api_error(400, "VALIDATION_ERROR", "slug must be 1-64 of a-z, 0-9 and '-', not starting or ending with '-'");
    if (o.logo.size() > 2048) return api_error(400, "VALIDATION_ERROR", "logo is too long");
    if (!metadata_ok) return api_error(400, "VALIDATION_ERROR", "metadata must be a JSON object");
    return std::nullopt;
}

http_response slug_taken() {
    return api_error(400, "ORGANIZATION_SLUG_ALREADY_TAKEN", "Organization slug already taken");
}

boost::asio::awaitable<http_response> create(org_call& c) {
    const auto now = unix_now();
    fs::organization_record o{random_urlsafe(16), string_field(c.body, "name").value_or(""),
                              string_field(c.body, "slug").value_or(""), string_field(c.body, "logo").value_or(""),
                              "", now};
    auto metadata = metadata_text(c.body);
    if (auto bad = check_fields(o, metadata.has_value())) co_return std::move(*bad);
    o.metadata = metadata.value_or("");
    fs::member_record owner{random_urlsafe(16), o.id, c.who.user.id, "owner", now, c.who.user.name,
                            c.who.user.email.empty() ? c.who.user.username : c.who.user.email};
    auto ec = co_await c.st.store.create_organization(o, owner);
    if (ec == fs::server_errc::already_exists) co_return slug_taken();
    if (ec) co_return api_failure(ec);
    note_event(c.st, &c.req, {.event = "organization_create", .user_id = c.who.user.id,
                              .username = c.who.user.username, .organization_id = o.id, .role = "owner"});
    if (!bool_field(c.body, "keepCurrentActiveOrganization", false)) {
        std::string hash = c.who.session.token_hash, id = o.id;
        if (auto set = co_await c.st.store.set_active_organization(std::move(hash), std::move(id))) co_return api_failure(set);
    }
    auto out = org_json(o);
    out["members"] = json::array{member_json(owner)};
    co_return api_json(200, out);
}

boost::asio::awaitable<http_response> update(org_call& c) {
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    if (auto v = fs::may_update(loaded.org->actor); v != fs::org_verdict::allowed)
        co_return refusal(v, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION", "You are not allowed to update this organization");
    auto it = c.body.find("data");
    if (it == c.body.end() || !it->value().is_object()) co_return api_error(400, "VALIDATION_ERROR", "data is missing");
    const auto& data = it->value().as_object();
    fs::organization_record o = loaded.org->view.org;
    o.name = string_field(data, "name").value_or(o.name);
    o.slug = string_field(data, "slug").value_or(o.slug);
    o.logo = string_field(data, "logo").value_or(o.logo);
    std::optional<std::string> metadata = o.metadata;
    if (data.contains("metadata")) metadata = metadata_text(data);
    if (auto bad = check_fields(o, metadata.has_value())) co_return std::move(*bad);
    o.metadata = metadata.value_or("");
    auto ec = co_await c.st.store.update_organization(o);
    if (ec == fs::server_errc::already_exists) co_return slug_taken();
    if (ec) co_return api_failure(ec);
    co_return api_json(200, org_json(o));
}

boost::asio::awaitable<http_response> remove(org_call& c) {
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    if (auto v = fs::may_delete(loaded.org->actor); v != fs::org_verdict::allowed)
        co_return refusal(v, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION", "You are not allowed to delete this organization");
    std::string id = loaded.org->view.org.id;
    if (auto ec = co_await c.st.store.delete_organization(std::move(id))) co_return api_failure(ec);
    note_event(c.st, &c.req, {.event = "organization_delete", .user_id = c.who.user.id,
                              .username = c.who.user.username, .organization_id = loaded.org->view.org.id});
    co_return api_json(200, org_json(loaded.org->view.org));
}

// {...organization, members, invitations}
boost::asio::awaitable<http_response> full(idp_state& st, const org_loaded& o) {
    std::string id = o.view.org.id, no_email;
    auto invitations = co_await st.store.list_invitations(std::move(id), std::move(no_email));
    if (!invitations) co_return api_failure(invitations.error());
    auto out = org_json(o.view.org);
    json::array members, invites;
    for (const auto& m : o.view.members) members.push_back(member_json(m));
    for (const auto& i : *invitations) invites.push_back(invitation_json(i));
    out["members"] = std::move(members);
    out["invitations"] = std::move(invites);
    co_return api_json(200, out);
}

boost::asio::awaitable<http_response> get_full(org_call& c) {
    const bool named = !c.query.value_or_empty("organizationId").empty() || !c.query.value_or_empty("organizationSlug").empty();
    if (!named && c.who.session.active_organization_id.empty()) co_return api_json(200, nullptr);
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    if (auto v = fs::may_read(loaded.org->actor); v != fs::org_verdict::allowed) co_return refusal(v, "", "");
    co_return co_await full(c.st, *loaded.org);
}

boost::asio::awaitable<http_response> set_active(org_call& c) {
    auto id = c.body.find("organizationId");
    const bool clear = id != c.body.end() && id->value().is_null();
    std::string key = string_field(c.body, "organizationId").value_or("");
    bool by_slug = false;
    if (key.empty() && !clear) {
        key = string_field(c.body, "organizationSlug").value_or("");
        by_slug = !key.empty();
        if (key.empty()) key = c.who.session.active_organization_id;
    }
    std::string hash = c.who.session.token_hash;
    if (clear || key.empty()) {
        std::string none;
        if (auto ec = co_await c.st.store.set_active_organization(std::move(hash), std::move(none))) co_return api_failure(ec);
        co_return api_json(200, nullptr);
    }
    auto loaded = co_await load_org(c.st, c.who.user, std::move(key), by_slug);
    if (loaded.error) co_return std::move(*loaded.error);
    // Only a member's session has an active organization (its claims carry the member role).
    if (!loaded.org->self) co_return refusal(fs::org_verdict::not_member, "", "");
    std::string org_id = loaded.org->view.org.id;
    if (auto ec = co_await c.st.store.set_active_organization(std::move(hash), std::move(org_id))) co_return api_failure(ec);
    co_return co_await full(c.st, *loaded.org);
}

boost::asio::awaitable<http_response> list(org_call& c) {
    std::string user_id = c.who.user.id;
    auto all = co_await c.st.store.list_organizations(std::move(user_id));
    if (!all) co_return api_failure(all.error());
    json::array out;
    for (const auto& o : *all) out.push_back(org_json(o));
    co_return api_json(200, out);
}

boost::asio::awaitable<http_response> check_slug(org_call& c) {
    std::string slug = string_field(c.body, "slug").value_or("");
    if (!fs::valid_slug(slug)) co_return api_error(400, "VALIDATION_ERROR", "slug must be 1-64 of a-z, 0-9 and '-'");
    auto found = co_await c.st.store.find_organization(std::move(slug), true);
    if (found) co_return slug_taken();
    if (found.error() != fs::server_errc::not_found) co_return api_failure(found.error());
    co_return api_json(200, json::object{{"status", true}});
}

constexpr std::string_view get_paths[] = {"/organization/list", "/organization/get-full-organization",
                                          "/organization/list-members", "/organization/get-active-member",
                                          "/organization/get-active-member-role", "/organization/get-invitation",
                                          "/organization/list-invitations", "/organization/list-user-invitations"};

bool is_get(std::string_view path) {
    for (auto p : get_paths)
        if (p == path) return true;
    return false;
}

boost::asio::awaitable<http_response> dispatch_call(org_call& c, std::string_view path) {
    if (path == "/organization/create") co_return co_await create(c);
    if (path == "/organization/update") co_return co_await update(c);
    if (path == "/organization/delete") co_return co_await remove(c);
    if (path == "/organization/list") co_return co_await list(c);
    if (path == "/organization/get-full-organization") co_return co_await get_full(c);
    if (path == "/organization/set-active") co_return co_await set_active(c);
    if (path == "/organization/check-slug") co_return co_await check_slug(c);
    auto member = co_await member_call(c, path);
    if (member) co_return std::move(*member);
    auto invitation = co_await invitation_call(c, path);
    if (invitation) co_return std::move(*invitation);
    co_return api_error(404, "NOT_FOUND", "Not found");
}

}  // namespace

boost::asio::awaitable<http_response> organization_api(idp_state& st, const ts::server_request& req,
                                                       std::string_view path) {
    const bool get = is_get(path);
    if (get && req.method != http_method::get) co_return api_error(405, "METHOD_NOT_ALLOWED", "Use GET");
    if (!get && req.method != http_method::post) co_return api_error(405, "METHOD_NOT_ALLOWED", "Use POST");
    json::object body;
    if (!get) {
        if (auto refused = refuse_post(st, req)) co_return std::move(*refused);
        auto parsed = json_body(req);
        if (!parsed) co_return api_error(400, "INVALID_JSON", "The body is not a JSON object");
        body = std::move(*parsed);
    }
    auto query = fs::form::parse(req.query());
    if (!query) co_return api_error(400, "VALIDATION_ERROR", "malformed or repeated query parameters");
    auto s = co_await current_session(st, req);
    if (!s) co_return api_failure(s.error());
    if (!s->found) co_return api_error(401, "UNAUTHORIZED", "Unauthorized");
    org_call c{st, req, *s->found, body, *query};
    auto answer = co_await dispatch_call(c, path);
    co_return with_cookie(std::move(answer), std::move(s->set_cookie));
}

}  // namespace latchkey::idp
