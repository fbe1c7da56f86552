// JSON codecs for the credential store (schema documented in README.md).
#include <latchkey/core/store.hpp>
#include <latchkey/core/untrusted.hpp>

#include "json_util.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace latchkey {
namespace json = boost::json;
using detail::json_str;

std::string identity::display() const {
    if (!name.empty()) return name;
    if (!email.empty()) return email;
    if (!username.empty()) return username;
    return subject;
}

namespace {

const json::object* child(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_object() ? &it->value().as_object() : nullptr;
}
void put_if(json::object& o, std::string_view key, const std::string& v) {
    if (!v.empty()) o[key] = v;
}
result<json::object> parse_versioned(std::string_view text, int max_version, const char* what,
                                     diagnostics& diag) {
    error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) {
        diag.client_message = std::string(what) + " is not valid JSON";
        return client_errc::store_corrupt;
    }
    auto& o = v.as_object();
    auto it = o.find("version");
    if (it == o.end() || !it->value().is_int64()) {
        diag.client_message = std::string(what) + " has no schema version";
        return client_errc::store_corrupt;
    }
    if (it->value().as_int64() > max_version || it->value().as_int64() < 1) {
        diag.client_message = std::string(what) + " has schema version " +
                              std::to_string(it->value().as_int64()) +
                              ", which this latch does not understand (newer latch?)";
        return client_errc::store_corrupt;
    }
    return std::move(o);
}

}  // namespace

std::string to_json(const stored_credentials& c) {
    json::object o;
    o["version"] = stored_credentials::schema_version;
    o["context"] = c.context;
    o["issuer"] = c.issuer;
    o["client_id"] = c.client_id;
    o["login_method"] = to_string(c.method);
    o["status"] = c.expired ? "expired" : "active";
    o["obtained_at"] = format_time(c.obtained_at);
    json::object who;
    put_if(who, "sub", c.who.subject);
    put_if(who, "email", c.who.email);
    put_if(who, "name", c.who.name);
    put_if(who, "preferred_username", c.who.username);
    if (!c.who.attributes.empty()) {
        json::object attrs;
        for (const auto& [k, v] : c.who.attributes) attrs[k] = v;
        who["attributes"] = std::move(attrs);
    }
    o["identity"] = std::move(who);
    json::object t;
    t["access_token"] = c.tokens.access_token.reveal();
    if (c.tokens.refresh_token) t["refresh_token"] = c.tokens.refresh_token->reveal();
    if (c.tokens.id_token) t["id_token"] = c.tokens.id_token->reveal();
    t["token_type"] = c.tokens.token_type;
    put_if(t, "scope", c.tokens.scope);
    if (c.tokens.expires_at) t["expires_at"] = format_time(*c.tokens.expires_at);
    if (c.tokens.issued_at) t["issued_at"] = format_time(*c.tokens.issued_at);
    if (c.tokens.expiry_assumed) t["expiry_assumed"] = true;
    o["tokens"] = std::move(t);
    if (c.gateway) {
        json::object g;
        g["url"] = c.gateway->url;
        g["session_token"] = c.gateway->token.reveal();
        if (c.gateway->expires_at) g["expires_at"] = format_time(*c.gateway->expires_at);
        g["obtained_at"] = format_time(c.gateway->obtained_at);
        o["gateway"] = std::move(g);
    }
    return json::serialize(o) + "\n";
}

result<stored_credentials> credentials_from_json(std::string_view text, diagnostics& diag) {
    auto parsed = parse_versioned(text, stored_credentials::schema_version, "credentials file", diag);
    if (!parsed) return parsed.error();
    const json::object& o = *parsed;
    stored_credentials c;
    c.context = json_str(o, "context");
    c.issuer = json_str(o, "issuer");
    c.client_id = json_str(o, "client_id");
    c.method = login_method_from_string(json_str(o, "login_method"));
    c.expired = json_str(o, "status") == "expired";
    if (auto t = parse_time(json_str(o, "obtained_at"))) c.obtained_at = *t;
    if (const auto* who = child(o, "identity")) {
        c.who.subject = json_str(*who, "sub");
        c.who.email = json_str(*who, "email");
        c.who.name = json_str(*who, "name");
        c.who.username = json_str(*who, "preferred_username");
        if (const auto* attrs = child(*who, "attributes"))
            for (const auto& [k, v] : *attrs)
                if (v.is_string()) c.who.attributes[std::string(k)] = std::string(v.as_string());
    }
    const auto* t = child(o, "tokens");
    if (!t || json_str(*t, "access_token").empty()) {
        diag.client_message = "credentials file has no tokens.access_token";
        return client_errc::store_corrupt;
    }
    c.tokens.access_token = secret{json_str(*t, "access_token")};
    if (auto r = json_str(*t, "refresh_token"); !r.empty()) c.tokens.refresh_token = secret{r};
    if (auto i = json_str(*t, "id_token"); !i.empty()) c.tokens.id_token = secret{i};
    if (auto tt = json_str(*t, "token_type"); !tt.empty()) c.tokens.token_type = tt;
    c.tokens.scope = json_str(*t, "scope");
    if (auto e = json_str(*t, "expires_at"); !e.empty()) {
        c.tokens.expires_at = parse_time(e);
        if (!c.tokens.expires_at) {
            diag.client_message = "credentials file has an unreadable tokens.expires_at";
            return client_errc::store_corrupt;
        }
    }
    // Optional (added within schema version 1); an unreadable issued_at is only "unknown".
    c.tokens.issued_at = parse_time(json_str(*t, "issued_at"));
    if (auto it = t->find("expiry_assumed"); it != t->end() && it->value().is_bool())
        c.tokens.expiry_assumed = it->value().as_bool();
    if (auto why = token_set_problem(c.tokens); !why.empty()) {
        diag.client_message = "credentials file: " + why;
        return client_errc::store_corrupt;
    }
    // Optional (added within schema version 1): readers that predate it ignore it.
    if (const auto* g = child(o, "gateway"); g && !json_str(*g, "session_token").empty()) {
        gateway_session s;
        s.url = json_str(*g, "url");
        s.token = secret{json_str(*g, "session_token")};
        if (auto why = token_problem(s.token.reveal(), token_kind::opaque); !why.empty()) {
            diag.client_message = "credentials file: its gateway.session_token " + why;
            return client_errc::store_corrupt;
        }
        // An unreadable expiry counts as expired: the session is exchanged again.
        if (auto e = json_str(*g, "expires_at"); !e.empty()) s.expires_at = parse_time(e).value_or(time_point{});
        if (auto t = parse_time(json_str(*g, "obtained_at"))) s.obtained_at = *t;
        c.gateway = std::move(s);
    }
    return c;
}

std::string to_json(const config_file& c) {
    json::object o;
    o["version"] = config_file::schema_version;
    o["current_context"] = c.current_context;
    json::object ctxs;
    for (const auto& [name, ctx] : c.contexts) {
        json::object x;
        for (const auto& [k, v] : ctx.extra) x[k] = v;
        x["issuer"] = ctx.issuer;
        x["client_id"] = ctx.client_id;
        json::array scopes;
        for (const auto& s : ctx.scopes) scopes.emplace_back(s);
        x["scopes"] = std::move(scopes);
        ctxs[name] = std::move(x);
    }
    o["contexts"] = std::move(ctxs);
    return json::serialize(o) + "\n";
}

result<config_file> config_from_json(std::string_view text, diagnostics& diag) {
    auto parsed = parse_versioned(text, config_file::schema_version, "config file", diag);
    if (!parsed) return parsed.error();
    const json::object& o = *parsed;
    config_file c;
    if (auto cur = json_str(o, "current_context"); !cur.empty()) c.current_context = cur;
    if (const auto* ctxs = child(o, "contexts")) {
        for (const auto& [name, v] : *ctxs) {
            if (!v.is_object()) {
                diag.client_message =
                    "config file: context '" + escape_untrusted(name, 80) + "' is not an object";
                return client_errc::store_corrupt;
            }
            const auto& x = v.as_object();
            context_config ctx;
            ctx.issuer = json_str(x, "issuer");
            ctx.client_id = json_str(x, "client_id");
            if (auto it = x.find("scopes"); it != x.end() && it->value().is_array())
                for (const auto& s : it->value().as_array())
                    if (s.is_string()) ctx.scopes.emplace_back(s.as_string());
            // Found by tests/fuzz (fuzz_stores round trip): a hand-written "scopes": "..."
            // string landed in extra, and the next write dropped it.
            for (const auto& [k, val] : x)
                if (val.is_string() && k != "issuer" && k != "client_id" && k != "scopes")
                    ctx.extra[std::string(k)] = std::string(val.as_string());
            c.contexts[std::string(name)] = std::move(ctx);
        }
    }
    return c;
}

}  // namespace latchkey
