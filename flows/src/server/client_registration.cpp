#include <latchkey/flows/server/client_registration.hpp>

#include <latchkey/core/jwk.hpp>

#include <boost/json.hpp>

namespace latchkey::flows::server {

namespace json = boost::json;

namespace {

error_code refuse(diagnostics& diag, std::string why) {
    diag.client_message = std::move(why);
    return make_error_code(oauth_errc::invalid_client_metadata);
}

bool has_private_members(const json::object& key) {
    for (const char* m : {"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
        if (key.contains(m)) return true;
    return false;
}

bool empty_or_absent_array(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return !v || (v->is_array() && v->as_array().empty());
}

result<std::string> checked_jwks(const json::object& body, diagnostics& diag) {
    if (body.contains("jwks_uri")) return refuse(diag, "jwks_uri is not supported: register the keys in jwks");
    const auto* jwks = body.if_contains("jwks");
    const auto* keys = jwks && jwks->is_object() ? jwks->as_object().if_contains("keys") : nullptr;
    if (!keys || !keys->is_array() || keys->as_array().empty())
        return refuse(diag, "jwks with at least one public key is required");
    if (keys->as_array().size() > 4) return refuse(diag, "at most 4 keys may be registered");
    for (const auto& k : keys->as_array()) {
        if (!k.is_object()) return refuse(diag, "each key must be a JWK object");
        if (has_private_members(k.as_object())) return refuse(diag, "a registered key must not contain private parts");
        diagnostics inner;
        if (!parse_jwk(k.as_object(), inner)) return refuse(diag, "a key cannot be used: " + inner.client_message);
    }
    return json::serialize(*jwks);
}

}  // namespace

result<machine_registration> check_machine_registration(std::string_view text, diagnostics& diag) {
    boost::system::error_code ec;
    auto doc = json::parse(text, ec);
    if (ec || !doc.is_object()) return refuse(diag, "the body must be a JSON object");
    const auto& body = doc.as_object();
    machine_registration out;
    const auto* method = body.if_contains("token_endpoint_auth_method");
    if (!method || !method->is_string() || method->as_string() != "private_key_jwt")
        return refuse(diag, "token_endpoint_auth_method must be private_key_jwt");
    if (!empty_or_absent_array(body, "redirect_uris") || !empty_or_absent_array(body, "response_types"))
        return refuse(diag, "a machine takes no authorization response: no redirect_uris or response_types");
    if (const auto* g = body.if_contains("grant_types")) {
        if (!g->is_array()) return refuse(diag, "grant_types must be an array");
        for (const auto& v : g->as_array()) {
            if (!v.is_string() || v.as_string() != "client_credentials")
                return refuse(diag, "only the client_credentials grant can be registered");
        }
    }
    out.grant_types = {"client_credentials"};
    if (const auto* n = body.if_contains("client_name")) {
        if (!n->is_string() || n->as_string().size() > 200) return refuse(diag, "client_name must be a string of at most 200 characters");
        out.client_name = n->as_string();
    }
    if (const auto* s = body.if_contains("scope")) {
        if (!s->is_string() || s->as_string().size() > 1000) return refuse(diag, "scope must be a string");
        out.scope = s->as_string();
    }
    if (const auto* d = body.if_contains("dpop_bound_access_tokens")) {  // RFC 9449 §5.2
        if (!d->is_bool()) return refuse(diag, "dpop_bound_access_tokens must be a boolean");
        out.dpop_bound = d->as_bool();
    }
    auto jwks = checked_jwks(body, diag);
    if (!jwks) return jwks.error();
    out.jwks = std::move(*jwks);
    return out;
}

json::object registration_answer(const client_record& client, std::string_view client_uri,
                                 std::string_view registration_token) {
    json::object o;
    o["client_id"] = client.client_id;
    o["client_id_issued_at"] = client.created_at;
    o["client_name"] = client.name;
    json::array grants;
    for (const auto& g : client.grant_types) grants.emplace_back(g);
    o["grant_types"] = std::move(grants);
    o["response_types"] = json::array{};
    o["token_endpoint_auth_method"] = client.auth_method;
    boost::system::error_code ec;
    auto jwks = json::parse(client.jwks, ec);
    if (!ec) o["jwks"] = std::move(jwks);
    o["scope"] = client.scope;
    if (client.dpop_bound) o["dpop_bound_access_tokens"] = true;
    o["registration_client_uri"] = client_uri;
    if (!registration_token.empty()) o["registration_access_token"] = registration_token;
    return o;
}

}  // namespace latchkey::flows::server
