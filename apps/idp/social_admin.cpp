// `latch-idp social add|list|rm`: the upstream OpenID Providers users may sign in with. The
// client secret is read from a file (never argv) and stored sealed under DATA/secret.key,
// like TOTP keys; a running server sees a change at its next sign-in (no restart).
#include "social.hpp"

#include <latchkey/flows/server/sealed.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>

#include <iostream>

namespace latchkey::idp {

using flows::server::server_errc;

bool valid_social_name(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    return true;
}

std::string social_secret_context(const std::string& name) { return "social:" + name; }

int social_add(const social_add_options& o) {
    if (!valid_social_name(o.name))
        return fail("latch-idp: the provider name must have 1 to 32 characters a-z, 0-9, '-' or '_'");
    const bool https = o.issuer.rfind("https://", 0) == 0;
    const bool loopback = o.issuer.rfind("http://127.0.0.1", 0) == 0 || o.issuer.rfind("http://localhost", 0) == 0 ||
                          o.issuer.rfind("http://[::1]", 0) == 0;
    if (flows::server::url_origin(o.issuer).empty() || !(https || loopback))
        return fail("latch-idp: --issuer wants an https URL (http only on a loopback address)");
    if (o.client_id.empty() || o.client_id.size() > 255) return fail("latch-idp: --client-id is required");
    if (o.scope.find("openid") == std::string::npos) return fail("latch-idp: --scope must include openid");
    for (unsigned char ch : o.issuer + o.client_id + o.scope)
        if (ch < 0x20 || ch == 0x7f) return fail("latch-idp: --issuer, --client-id and --scope may not contain control characters");
    flows::server::social_provider_record p{o.name, o.issuer, o.client_id, "", o.scope, unix_now()};
    while (p.issuer.size() > 8 && p.issuer.back() == '/') p.issuer.pop_back();
    if (!o.secret_file.empty()) {
        auto given = read_password(o.secret_file);
        if (!given) return fail("latch-idp: cannot read a secret from --client-secret-file (first line, not empty)");
        diagnostics diag;
        auto key = load_or_create_sealing_key(o.at.data, diag);
        if (!key) return fail("latch-idp: " + diag.client_message);
        p.sealed_secret = flows::server::seal(*key, given->reveal(), social_secret_context(o.name));
    }
    auto st = open_or_exit(o.at);
    if (auto ec = await_sync(st->put_social_provider(p))) return fail("latch-idp: cannot add the provider: " + ec.message());
    std::cout << "social provider " << o.name << ": " << p.issuer << " (client " << p.client_id << ", "
              << (p.sealed_secret.empty() ? "public" : "secret sealed") << ")\n"
              << "register this redirect URI at the provider: ISSUER/api/auth/callback/" << o.name << "\n";
    return 0;
}

int social_list(const store_location& at) {
    auto st = open_or_exit(at);
    auto all = await_sync(st->list_social_providers());
    if (!all) return fail("latch-idp: cannot list social providers: " + all.error().message());
    for (const auto& p : *all)
        std::cout << p.name << "\t" << p.issuer << "\t" << p.client_id << "\t"
                  << (p.sealed_secret.empty() ? "public" : "confidential") << "\tscope: " << p.scope << "\n";
    return 0;
}

int social_rm(const store_location& at, const std::string& name) {
    auto st = open_or_exit(at);
    auto ec = await_sync(st->delete_social_provider(name));
    if (ec == server_errc::not_found) return fail("latch-idp: no social provider '" + name + "'");
    if (ec) return fail("latch-idp: cannot remove the provider: " + ec.message());
    std::cout << "removed social provider " << name << " (linked accounts stay; adding it again restores them)\n";
    return 0;
}

}  // namespace latchkey::idp
