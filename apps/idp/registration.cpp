// Machines on latch-idp: RFC 7591 Dynamic Client Registration of a public key and RFC 7592
// management (read, update = key rotation, delete), the server side of `latch machine
// add|list|rotate|rm` and seed 004's machine login. A machine is a client with
// token_endpoint_auth_method private_key_jwt: the token endpoint authenticates it by a
// client assertion signed with a registered key (endpoints.cpp, with a jti replay cache).
//
// Who may register: a user, with one of their live access tokens (the machine's scope is
// narrowed to that token's scopes), or whoever holds the initial access token of
// `serve --initial-access-token-file`. Management: the registration access token the answer
// carries (stored hashed; a new one is issued on every update, RFC 7592 §3). An unknown client
// and a wrong token get the same 401 (RFC 7592 §2.1), so ids cannot be probed.
#include "idp.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/client_registration.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

#include <set>
#include <sstream>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

http_response answer(int status, const json::object& body) {
    auto r = json_response(status, json::serialize(body));
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("Pragma", "no-cache");
    return r;
}

http_response invalid_token(std::string_view description) {
    auto r = answer(401, json::object{{"error", "invalid_token"}, {"error_description", description}});
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return r;
}

std::string bearer(const ts::server_request& req) {
    const std::string auth = req.header("Authorization");
    if (auth.size() <= 7 || (auth.rfind("Bearer ", 0) != 0 && auth.rfind("bearer ", 0) != 0)) return {};
    return auth.substr(7);
}

// `requested` narrowed to the scopes of `granted` (space-separated lists).
std::string narrow_scope(const std::string& requested, const std::string& granted) {
    std::set<std::string> allowed;
    std::istringstream g(granted);
    for (std::string s; g >> s;) allowed.insert(s);
    std::string out;
    std::istringstream r(requested);
    for (std::string s; r >> s;)
        if (allowed.count(s) && s != "openid" && s != "offline_access") out += (out.empty() ? "" : " ") + s;
    return out;
}

struct registrant {
    std::string owner;           // user id; empty for the initial access token
    std::string granted_scope;   // what the bearer may hand on
    bool initial_token = false;
};

// The bearer of a registration: the initial access token, or a user's live access token
// (with its DPoP proof when it is bound: resource_access_token); else the 401 to answer.
struct registrant_found {
    std::optional<registrant> who;
    std::optional<http_response> error;
};
boost::asio::awaitable<registrant_found> find_registrant(idp_state& st, const ts::server_request& req) {
    const std::string token = bearer(req);
    if (!token.empty() && !st.initial_access_token_hash.empty() &&
        fs::token_matches_hash(token, st.initial_access_token_hash))
        co_return registrant_found{registrant{"", "", true}, {}};
    auto access = co_await resource_access_token(st, req);
    if (access.absent) co_return registrant_found{{}, invalid_token("a user's access token or an initial access token is required")};
    if (access.error) co_return registrant_found{{}, std::move(*access.error)};
    const auto* sub = access.info->if_contains("sub");
    const auto* scope = access.info->if_contains("scope");
    if (!sub || !sub->is_string()) co_return registrant_found{{}, invalid_token("the access token is not a user's")};
    std::string id(sub->as_string());
    auto user = co_await st.store.find_user_by_id(std::move(id));
    // A client's own token (client_credentials) registers nothing.
    if (!user) co_return registrant_found{{}, invalid_token("the access token is invalid, expired or not a user's")};
    const std::string granted = scope && scope->is_string() ? std::string(scope->as_string()) : "";
    co_return registrant_found{registrant{user->id, granted, false}, {}};
}

std::string client_uri(const idp_state& st, const std::string& id) { return st.config.issuer + "/oauth2/register/" + id; }

boost::asio::awaitable<http_response> register_machine(idp_state& st, const ts::server_request& req) {
    auto found = co_await find_registrant(st, req);
    if (!found.who) {
        if (!bearer(req).empty() || req.header("Authorization").rfind("DPoP ", 0) == 0)
            note_event(st, &req, {.event = "client_register", .ok = false, .reason = "bad_token"});
        co_return std::move(*found.error);
    }
    const auto& who = found.who;
    diagnostics diag;
    auto meta = fs::check_machine_registration(req.body, diag);
    if (!meta) co_return oauth_error(meta.error(), diag.client_message);
    const secret management = fs::make_opaque_token();
    fs::client_record c;
    c.client_id = "machine-" + random_urlsafe(12);
    c.name = meta->client_name.empty() ? c.client_id : meta->client_name;
    c.auth_method = "private_key_jwt";
    c.grant_types = meta->grant_types;
    c.scope = who->initial_token ? meta->scope : narrow_scope(meta->scope, who->granted_scope);
    c.created_at = unix_now();
    c.jwks = meta->jwks;
    c.dpop_bound = meta->dpop_bound;
    c.registration_token_hash = fs::hash_token(management.reveal());
    c.owner = who->owner;
    fs::client_record stored = c;
    if (auto ec = co_await st.store.put_client(std::move(stored))) co_return storage_error(ec);
    std::fprintf(stderr, "latch-idp: registered machine %s (%s) for %s\n", c.client_id.c_str(),
                 escape_untrusted(c.name, 200).c_str(), who->initial_token ? "an initial access token" : c.owner.c_str());
    note_event(st, &req, {.event = "client_register", .user_id = c.owner, .client_id = c.client_id,
                          .reason = who->initial_token ? "initial_access_token" : ""});
    co_return answer(201, fs::registration_answer(c, client_uri(st, c.client_id), management.reveal()));
}

boost::asio::awaitable<http_response> manage_machine(idp_state& st, const ts::server_request& req, std::string id) {
    const std::string token = bearer(req);
    auto client = co_await st.store.find_client(id);
    if (!client && client.error() != fs::server_errc::not_found) co_return storage_error(client.error());
    if (token.empty() || !client || client->registration_token_hash.empty() ||
        !fs::token_matches_hash(token, client->registration_token_hash)) {
        note_event(st, &req, {.event = "client_manage", .ok = false, .client_id = id, .reason = "bad_token"});
        co_return invalid_token("the registration access token is invalid or the client no longer exists");
    }
    if (req.method == http_method::get) co_return answer(200, fs::registration_answer(*client, client_uri(st, id), ""));
    if (req.method == http_method::delete_) {
        if (auto ec = co_await st.store.delete_client(std::move(id)); ec && ec != fs::server_errc::not_found)
            co_return storage_error(ec);
        note_event(st, &req, {.event = "client_delete", .user_id = client->owner, .client_id = client->client_id});
        http_response gone;
        gone.status = 204;
        gone.headers.emplace_back("Cache-Control", "no-store");
        co_return gone;
    }
    // PUT (RFC 7592 §2.2): the full metadata, client_id included; the keys are replaced, so a
    // rotation takes effect when this answer is sent and the old key stops working.
    diagnostics diag;
    boost::system::error_code ec;
    auto doc = json::parse(req.body, ec);
    const auto* cid = !ec && doc.is_object() ? doc.as_object().if_contains("client_id") : nullptr;
    if (!cid || !cid->is_string() || cid->as_string() != id)
        co_return oauth_error(oauth_errc::invalid_client_metadata, "the body's client_id must be the client's");
    auto meta = fs::check_machine_registration(req.body, diag);
    if (!meta) co_return oauth_error(meta.error(), diag.client_message);
    const secret management = fs::make_opaque_token();
    fs::client_record c = *client;
    if (!meta->client_name.empty()) c.name = meta->client_name;
    c.grant_types = meta->grant_types;
    c.jwks = meta->jwks;
    c.dpop_bound = meta->dpop_bound;
    c.registration_token_hash = fs::hash_token(management.reveal());
    fs::client_record updated = c;
    if (auto uec = co_await st.store.update_client(std::move(updated))) co_return storage_error(uec);
    note_event(st, &req, {.event = "client_update", .user_id = c.owner, .client_id = c.client_id});
    co_return answer(200, fs::registration_answer(c, client_uri(st, id), management.reveal()));
}

}  // namespace

boost::asio::awaitable<http_response> registration_endpoint(idp_state& st, const ts::server_request& req) {
    const auto path = req.path();
    if (path == "/oauth2/register") {
        if (req.method != http_method::post) co_return json_response(405, R"({"error":"invalid_request"})");
        if (req.header("Content-Type").rfind("application/json", 0) != 0)
            co_return oauth_error(oauth_errc::invalid_request, "expected application/json");
        co_return co_await register_machine(st, req);
    }
    std::string id(path.substr(std::string_view("/oauth2/register/").size()));
    if (id.empty() || id.size() > 100 || id.find('/') != std::string::npos)
        co_return invalid_token("the registration access token is invalid or the client no longer exists");
    if (req.method == http_method::post) co_return json_response(405, R"({"error":"invalid_request"})");
    co_return co_await manage_machine(st, req, std::move(id));
}

}  // namespace latchkey::idp
