// Where the CLI's token_source finds a confidential client's secret and a machine's key
// (transport/renewal.hpp): latch never stores either, only where it comes from. A login
// with a client secret remembers how the context authenticates in its config
// ("client_secret": "file /abs/path" or "env LATCH_CLIENT_SECRET"); a machine login
// remembers its key file ("machine_key_file"). Every token-endpoint and revocation call of
// the context then authenticates the same way (RFC 6749 §6, RFC 7009 §2.1).
#include "app.hpp"
#include "machine_common.hpp"
#include "renewal_sources.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace latchkey::cli {
namespace fs = std::filesystem;

namespace {

constexpr const char* client_secret_key = "client_secret";
constexpr const char* from_env = "env LATCH_CLIENT_SECRET";
constexpr const char* from_file = "file ";

std::string remembered(app& a, const std::string& ctx, const char* key) {
    diagnostics ignored;
    auto cfg = a.store.load_config(ignored);
    if (!cfg) return {};
    auto it = cfg->contexts.find(ctx);
    if (it == cfg->contexts.end()) return {};
    auto v = it->second.extra.find(key);
    return v == it->second.extra.end() ? std::string{} : v->second;
}

std::optional<secret> env_secret() {
    const char* v = std::getenv("LATCH_CLIENT_SECRET");
    if (!v || !*v) return std::nullopt;
    return secret{v};
}

// LATCH_CLIENT_SECRET, else the file the context remembers; none for a public client.
result<std::optional<secret>> context_client_secret(app& a, const stored_credentials& c,
                                                    diagnostics& diag) {
    const std::string how = remembered(a, c.context, client_secret_key);
    if (how.empty() && c.method != login_method::client_credentials)
        return std::optional<secret>{};  // a public client
    if (auto s = env_secret()) return std::optional<secret>(std::move(*s));
    if (how.rfind(from_file, 0) == 0) {
        auto s = read_client_secret_file(how.substr(std::string_view(from_file).size()), diag);
        if (!s) return s.error();
        return std::optional<secret>(std::move(*s));
    }
    diag.client_message = "the client of context '" + c.context + "' authenticates with a "
                          "secret: set LATCH_CLIENT_SECRET";
    return client_errc::config_missing;
}

result<transport::signing_key> context_machine_key(app& a, const stored_credentials& c,
                                                   diagnostics& diag) {
    auto k = load_machine_key(a, c.client_id, {}, remembered(a, c.context, "machine_key_file"),
                              diag);
    if (!k) return k.error();
    return transport::signing_key{std::move(k->key), std::move(k->kid), std::move(k->source)};
}

}  // namespace

result<secret> read_client_secret_file(const fs::path& file, diagnostics& diag) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        diag.client_message = "cannot read the client secret file " + file.string();
        return client_errc::bad_input;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.empty()) {
        diag.client_message = "the client secret file " + file.string() + " is empty";
        return client_errc::bad_input;
    }
    return secret{std::move(s)};
}

void remember_client_auth(std::map<std::string, std::string>& extra, const login_options& o) {
    auto& how = extra[std::string(client_secret_key)];
    how.clear();  // other logins use a public client: forget it
    if (!o.password && !o.client_credentials) return;
    if (!o.client_secret_file.empty())
        how = std::string(from_file) + fs::absolute(o.client_secret_file).string();
    else if (env_secret())
        how = from_env;
}

boost::asio::awaitable<void> async_explain_machine_refusal(app& a, const stored_credentials& c,
                                                          diagnostics& diag) {
    diagnostics ignored;
    auto k = load_machine_key(a, c.client_id, {}, remembered(a, c.context, "machine_key_file"),
                              ignored);
    if (!k) co_return;
    client_config cc;
    cc.issuer = c.issuer;
    cc.client_id = c.client_id;
    co_await explain_invalid_client(a, cc, *k, diag);
}

transport::client_auth_sources client_auth_sources_of(app& a) {
    transport::client_auth_sources s;
    s.client_secret = [&a](const stored_credentials& c, diagnostics& d) {
        return context_client_secret(a, c, d);
    };
    s.machine_key = [&a](const stored_credentials& c, diagnostics& d) {
        return context_machine_key(a, c, d);
    };
    return s;
}

}  // namespace latchkey::cli
