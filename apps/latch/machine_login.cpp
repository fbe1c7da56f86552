// Silent machine login (`latch login --machine`, and `latch token` in a machine context):
// the client credentials grant (RFC 6749 §4.4) authenticated by a signed client assertion
// (RFC 7523 §2.2, private_key_jwt; OIDC Core §9): iss = sub = the machine id, aud = the
// token endpoint, a 60 s lifetime and a fresh jti every time. No browser and no shared
// secret on the wire; the IdP checks the signature against the key `latch machine add`
// registered (RFC 7591). Bounded by a 2-minute timeout (--timeout overrides it).
#include "app.hpp"
#include "machine_common.hpp"
#include "renewal_sources.hpp"

#include <latchkey/core/jwk.hpp>
#include <latchkey/transport/login.hpp>

#include <cstdio>
#include <cstdlib>

namespace latchkey::cli {
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::chrono::seconds default_timeout{120};
std::string remembered_key_file(const config_file& cfg, const std::string& ctx) {
    auto it = cfg.contexts.find(ctx);
    if (it == cfg.contexts.end()) return {};
    auto k = it->second.extra.find("machine_key_file");
    return k == it->second.extra.end() ? std::string{} : k->second;
}

// The silent login through the library, bounded by `limit`.
asio::awaitable<result<transport::login_result>> async_machine(app& a, const client_config& c,
                                                               const machine_key& k,
                                                               std::chrono::seconds limit, bool dpop,
                                                               diagnostics& diag) {
    transport::login_options lo;
    lo.way = transport::login_way::machine;
    lo.timeout = limit;
    lo.key = {k.key.get(), k.kid, k.source};
    lo.machine_home = a.store.home();
    lo.dpop = dpop;
    terminal_user user{detect_terminal(true)};
    co_return co_await transport::async_login(a.client, c, std::move(lo), {user}, diag);
}

}  // namespace

result<machine_key> load_machine_key(app& a, const std::string& machine_id,
                                     const std::string& flag_file,
                                     const std::string& remembered_file, diagnostics& diag) {
    auto from_file = [&](const fs::path& p) -> result<machine_key> {
        auto pem = read_private_key_file(p, diag);
        if (!pem) return pem.error();
        return machine_key_from_pem(*pem, "the machine key file " + p.string(), p, diag);
    };
    if (!flag_file.empty()) return from_file(flag_file);
    if (const char* env = std::getenv("LATCH_MACHINE_KEY"); env && *env)
        return machine_key_from_pem(secret{env}, "the key in LATCH_MACHINE_KEY", {}, diag);
    if (!remembered_file.empty()) return from_file(remembered_file);
    const auto local = machine_store(a.store.home()).key_path(machine_id);
    std::error_code sec;
    if (fs::exists(local, sec) || fs::is_symlink(local, sec)) return from_file(local);
    diag.client_message = "no key for machine " + machine_id + " here: pass --key-file FILE, or set "
                          "LATCH_MACHINE_KEY to the PEM that `latch machine add --key-out FILE` wrote";
    return client_errc::key_error;
}

result<machine_key> machine_key_from_pem(const secret& pem, const std::string& source,
                                         const fs::path& file, diagnostics& diag) {
    auto key = read_private_key_pem(pem.reveal(), diag);
    if (!key) {
        diag.client_message = source + " is not a usable private key: " + diag.client_message;
        return key.error();
    }
    auto kid = jwk_thumbprint(key->get());
    if (!kid) {
        diag.client_message = source + " is not a usable private key";
        return kid.error();
    }
    return machine_key{std::move(*key), std::move(*kid), source, file};
}

asio::awaitable<int> run_machine_login(app& a, config_file cfg, const std::string& ctx,
                                       const client_config& client, const login_options& o) {
    diagnostics diag;
    auto key = load_machine_key(a, client.client_id, o.key_file, remembered_key_file(cfg, ctx), diag);
    if (!key) { print_error(describe(key.error(), diag)); co_return 1; }
    client_config c = client;
    // Scopes only when asked for: the user-login defaults mean nothing to a machine.
    c.scopes = o.scopes;
    auto limit = o.timeout_given ? std::chrono::seconds{o.timeout_s} : default_timeout;
    auto got = co_await async_machine(a, c, *key, limit, o.dpop, diag);
    if (!got) {
        if (got.error() == client_errc::cancelled) print_error("interrupted; nothing was stored");
        else print_error(describe(got.error(), diag));
        co_return got.error() == client_errc::cancelled ? 130 : 1;
    }
    // Mark the context so `latch token` signs a new assertion instead of refreshing.
    transport::save_options opts;
    remember_client_auth(opts.extra, o);  // a machine signs assertions: no client secret
    opts.extra["machine"] = "true";
    if (!o.key_file.empty()) opts.extra["machine_key_file"] = fs::absolute(o.key_file).string();
    co_return co_await async_store_login(a, ctx, c, *got, std::move(opts));
}

asio::awaitable<void> explain_invalid_client(app& a, const client_config& c, const machine_key& k,
                                             diagnostics& diag) {
    // Named locals, not temporaries: GCC 12 destroys temporaries of a co_await expression
    // twice (seen here: "double free" when the IdP refused the key).
    const transport::signing_key_ref key{k.key.get(), k.kid, k.source};
    std::filesystem::path home = a.store.home();
    co_await transport::async_explain_invalid_client(a.client, c, key, std::move(home), diag);
}

}  // namespace latchkey::cli
