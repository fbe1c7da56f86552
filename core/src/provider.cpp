#include <latchkey/core/provider.hpp>
#include <latchkey/core/untrusted.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace latchkey {
namespace json = boost::json;

std::vector<std::string> default_scopes() { return {"openid", "profile", "email", "offline_access"}; }

std::string client_config::scope_string() const {
    std::string out;
    for (const auto& s : scopes) {
        if (!out.empty()) out += ' ';
        out += s;
    }
    return out;
}

namespace {
std::string_view strip_slash(std::string_view s) {
    while (!s.empty() && s.back() == '/') s.remove_suffix(1);
    return s;
}
void read_string(const json::object& o, std::string_view key, std::string& out) {
    if (auto it = o.find(key); it != o.end() && it->value().is_string())
        out = std::string(it->value().as_string());
}
void read_list(const json::object& o, std::string_view key, std::vector<std::string>& out) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_array()) return;
    for (const auto& v : it->value().as_array())
        if (v.is_string()) out.emplace_back(v.as_string());
}
// Every endpoint the document names is later requested, printed or opened in a browser:
// one that is not https (http on loopback) fails discovery, naming the member, rather
// than being used or shown (a javascript: or http://evil endpoint, a URL with escapes).
error_code check_endpoints(const provider_metadata& m, const std::string& url, diagnostics& diag) {
    const std::pair<const char*, const std::string*> endpoints[] = {
        {"authorization_endpoint", &m.authorization_endpoint},
        {"token_endpoint", &m.token_endpoint},
        {"device_authorization_endpoint", &m.device_authorization_endpoint},
        {"userinfo_endpoint", &m.userinfo_endpoint},
        {"revocation_endpoint", &m.revocation_endpoint},
        {"introspection_endpoint", &m.introspection_endpoint},
        {"registration_endpoint", &m.registration_endpoint},
        {"jwks_uri", &m.jwks_uri}};
    for (const auto& [name, value] : endpoints) {
        if (value->empty()) continue;
        if (auto why = url_problem(*value); !why.empty()) {
            diag.client_message = "OpenID discovery at " + url + " lists an unusable " + name +
                                  " \"" + escape_untrusted(*value, 120) + "\": " + why;
            return client_errc::bad_url;
        }
    }
    return {};
}

}  // namespace

std::string discovery_url(std::string_view issuer) {
    return std::string(strip_slash(issuer)) + "/.well-known/openid-configuration";
}

result<provider_metadata> parse_provider_metadata(const http_response& resp,
                                                  std::string_view expected_issuer,
                                                  diagnostics& diag) {
    const std::string url = discovery_url(expected_issuer);
    if (resp.status != 200) {
        diag.client_message = "OpenID discovery at " + url + " answered HTTP " +
                              std::to_string(resp.status) + "; is the issuer URL right?";
        return client_errc::bad_http_status;
    }
    error_code ec;
    json::value v = json::parse(resp.body, ec);
    if (ec || !v.is_object()) {
        diag.client_message = "OpenID discovery at " + url + " did not return a JSON object";
        return client_errc::bad_json;
    }
    const auto& o = v.as_object();
    provider_metadata m;
    read_string(o, "issuer", m.issuer);
    // OIDC Discovery §4.3: the issuer in the document must be the one we asked for, or a
    // compromised document could redirect tokens elsewhere.
    if (strip_slash(m.issuer) != strip_slash(expected_issuer)) {
        diag.client_message = "OpenID discovery at " + url + " names a different issuer: \"" +
                              escape_untrusted(m.issuer, 200) + "\"";
        return client_errc::issuer_mismatch;
    }
    read_string(o, "authorization_endpoint", m.authorization_endpoint);
    read_string(o, "token_endpoint", m.token_endpoint);
    read_string(o, "device_authorization_endpoint", m.device_authorization_endpoint);
    read_string(o, "userinfo_endpoint", m.userinfo_endpoint);
    read_string(o, "revocation_endpoint", m.revocation_endpoint);
    read_string(o, "introspection_endpoint", m.introspection_endpoint);
    read_string(o, "registration_endpoint", m.registration_endpoint);
    read_string(o, "jwks_uri", m.jwks_uri);
    read_list(o, "grant_types_supported", m.grant_types_supported);
    read_list(o, "code_challenge_methods_supported", m.code_challenge_methods_supported);
    read_list(o, "dpop_signing_alg_values_supported", m.dpop_signing_alg_values_supported);
    if (auto it = o.find("authorization_response_iss_parameter_supported");
        it != o.end() && it->value().is_bool())
        m.authorization_response_iss_parameter_supported = it->value().as_bool();
    if (auto ec = check_endpoints(m, url, diag)) return ec;
    if (m.token_endpoint.empty()) {
        diag.client_message = "OpenID discovery at " + url + " lists no token_endpoint";
        return client_errc::missing_field;
    }
    return m;
}

provider_metadata merge_endpoints(const provider_metadata& e, const provider_metadata& d) {
    provider_metadata m = d;
    auto pick = [](const std::string& a, std::string& b) { if (!a.empty()) b = a; };
    pick(e.issuer, m.issuer);
    pick(e.authorization_endpoint, m.authorization_endpoint);
    pick(e.token_endpoint, m.token_endpoint);
    pick(e.device_authorization_endpoint, m.device_authorization_endpoint);
    pick(e.userinfo_endpoint, m.userinfo_endpoint);
    pick(e.revocation_endpoint, m.revocation_endpoint);
    pick(e.introspection_endpoint, m.introspection_endpoint);
    pick(e.registration_endpoint, m.registration_endpoint);
    pick(e.jwks_uri, m.jwks_uri);
    if (!e.grant_types_supported.empty()) m.grant_types_supported = e.grant_types_supported;
    return m;
}

}  // namespace latchkey
