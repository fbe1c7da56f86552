// Silent machine login (`latch login --machine`, and `latch token` in a machine context):
// the client credentials grant (RFC 6749 §4.4) authenticated by a signed client assertion
// (RFC 7523 §2.2, private_key_jwt; OIDC Core §9): iss = sub = the machine id, aud = the
// token endpoint, a 60 s lifetime and a fresh jti every time. No browser and no shared
// secret on the wire; the IdP checks the signature against the key `latch machine add`
// registered (RFC 7591). Bounded by a 2-minute timeout (--timeout overrides it).
#include "app.hpp"
#include "machine_common.hpp"

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
                                                               std::chrono::seconds limit,
                                                               diagnostics& diag) {
    transport::login_options lo;
    lo.way = transport::login_way::machine;
    lo.timeout = limit;
    lo.key = {k.key.get(), k.kid, k.source};
    lo.machine_home = a.store.home();
    terminal_user user{detect_terminal(true)};
    co_return co_await transport::async_login(a.client, c, std::move(lo), {user}, diag);
}

void print_token(const token_set& t) {
    // `latch token` exists to print it: the one place a whole secret is shown.
    const auto& v = t.access_token.reveal();
    std::fwrite(v.data(), 1, v.size(), stdout);
    std::fputc('\n', stdout);
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
    auto got = co_await async_machine(a, c, *key, limit, diag);
    if (!got) {
        if (got.error() == client_errc::cancelled) print_error("interrupted; nothing was stored");
        else print_error(describe(got.error(), diag));
        co_return got.error() == client_errc::cancelled ? 130 : 1;
    }
    // Mark the context so `latch token` signs a new assertion instead of refreshing.
    transport::save_options opts;
    opts.extra["machine"] = "true";
    if (!o.key_file.empty()) opts.extra["machine_key_file"] = fs::absolute(o.key_file).string();
    co_return co_await async_store_login(a, ctx, c, *got, std::move(opts));
}

// `latch token` for a machine context: no refresh token; near expiry a new assertion is
// signed (key: LATCH_MACHINE_KEY, else the file the context remembers, else the local key).
asio::awaitable<int> run_token_machine(app& a, stored_credentials creds) {
    const auto window = std::chrono::seconds{300};
    if (!creds.expired && (a.global.no_auto_refresh ? creds.tokens.valid_at(a.clock.now())
                                                    : creds.tokens.valid_at(a.clock.now(), window))) {
        print_token(creds.tokens);
        co_return 0;
    }
    const auto again = "the machine token of context '" + creds.context + "' ";
    if (a.global.no_auto_refresh) {
        print_error(again + "expired; run `latch login --machine`");
        co_return 77;
    }
    diagnostics diag;
    auto cfg = a.store.load_config(diag);
    if (!cfg) { print_error(describe(cfg.error(), diag)); co_return 1; }
    auto key = load_machine_key(a, creds.client_id, {}, remembered_key_file(*cfg, creds.context), diag);
    if (!key) {
        print_error(again + "expired and cannot be re-obtained: " + describe(key.error(), diag));
        co_return 77;
    }
    client_config c;
    c.issuer = creds.issuer;
    c.client_id = creds.client_id;
    if (!creds.tokens.scope.empty()) c.scopes = {creds.tokens.scope};  // the same grant again
    auto got = co_await async_machine(a, c, *key, default_timeout, diag);
    if (!got) {
        print_error(again + "could not be re-obtained: " + describe(got.error(), diag));
        // 77 only when the IdP refused the machine (a new `latch login --machine` or a new
        // key is needed); an IdP that is down or slow is an ordinary error (1).
        if (got.error() == oauth_errc::invalid_client) co_return 77;
        co_return exit_code_for(got.error());
    }
    creds.tokens = std::move(got->tokens);
    creds.obtained_at = a.clock.now();
    creds.expired = false;
    if (auto ec = a.store.save(creds, diag)) { print_error(describe(ec, diag)); co_return 1; }
    print_token(creds.tokens);
    co_return 0;
}

}  // namespace latchkey::cli
