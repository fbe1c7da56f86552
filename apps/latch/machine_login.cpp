// Silent machine login (`latch login --machine`; `latch token` renews through token_source):
// the client credentials grant (RFC 6749 §4.4) authenticated by a signed client assertion
// (RFC 7523 §2.2, private_key_jwt; OIDC Core §9): iss = sub = the machine id, aud = the
// token endpoint, a 60 s lifetime and a fresh jti every time. No browser and no shared
// secret on the wire; the IdP checks the signature against the key `latch machine add`
// registered (RFC 7591). Bounded by a 2-minute timeout (--timeout overrides it).
#include "app.hpp"
#include "machine_common.hpp"

#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jws_sign.hpp>
#include <latchkey/core/registration.hpp>
#include <latchkey/flows/grant_flow.hpp>
#include <latchkey/transport/drive.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace latchkey::cli {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr std::chrono::seconds default_timeout{120};
// Beyond this the IdP rejects an honest assertion as expired or not yet valid
// (oidc-provider tolerates 15 s; many IdPs less than a minute).
constexpr std::chrono::seconds skew_tolerance{15};

std::string remembered_key_file(const config_file& cfg, const std::string& ctx) {
    auto it = cfg.contexts.find(ctx);
    if (it == cfg.contexts.end()) return {};
    auto k = it->second.extra.find("machine_key_file");
    return k == it->second.extra.end() ? std::string{} : k->second;
}

}  // namespace

// Why the IdP said invalid_client (machine_common.hpp).
asio::awaitable<void> explain_invalid_client(app& a, const client_config& c, const machine_key& k,
                                             diagnostics& diag) {
    error_code ec;
    diagnostics ignored;
    auto disc = co_await a.http.async_send(make_get(discovery_url(c.issuer)), ec, ignored);
    if (!ec) {
        if (auto skew = server_clock_skew(disc, a.clock.now());
            skew && (*skew > skew_tolerance || *skew < -skew_tolerance)) {
            diag.client_message = "clock skew too large: this machine's clock is " +
                                  format_duration(*skew > std::chrono::seconds{0} ? *skew : -*skew) +
                                  (*skew > std::chrono::seconds{0} ? " behind" : " ahead of") +
                                  " the identity provider's (by its Date header), so the signed "
                                  "assertion looks expired or not yet valid (invalid_client); set the "
                                  "clock right (NTP) and try again";
            co_return;
        }
    }
    auto rec = machine_store(a.store.home()).find(c.client_id, ignored);
    if (rec && *rec && !(*rec)->registration_access_token.empty() &&
        !(*rec)->registration_client_uri.empty()) {
        auto resp = co_await a.http.async_send(
            make_registration_read((*rec)->registration_client_uri, (*rec)->registration_access_token),
            ec, ignored);
        auto reg = ec ? result<client_registration>(ec) : parse_registration_response(resp, ignored);
        if (reg && std::find(reg->kids.begin(), reg->kids.end(), k.kid) == reg->kids.end()) {
            diag.client_message = "the identity provider refused " + k.source + " for machine " +
                                  c.client_id + " (invalid_client): it is not the machine's registered "
                                  "key (rotated with `latch machine rotate`?); use its current key";
            co_return;
        }
        if (reg) co_return;  // registered with this key: the IdP's own reason is all we have
    }
    diag.client_message = "machine not registered: the identity provider at " + c.issuer +
                          " refused machine " + c.client_id + " (invalid_client); it was removed "
                          "(`latch machine rm`) or never registered there, or " + k.source +
                          " is not its key; register one with `latch machine add`";
}

namespace {

asio::awaitable<result<login_outcome>> async_machine_grant(app& a, client_config c,
                                                           const machine_key& k,
                                                           diagnostics& diag) {
    auto meta = co_await a.async_discover(c, diag);
    if (!meta) co_return meta.error();
    if (meta->token_endpoint.empty()) {
        diag.client_message = "the identity provider at " + c.issuer + " does not advertise a token endpoint";
        co_return client_errc::endpoint_missing;
    }
    auto assertion = make_client_assertion(k.key.get(), k.kid, c.client_id, meta->token_endpoint,
                                           a.clock.now());
    if (!assertion) {
        diag.client_message = "cannot sign a client assertion with " + k.source;
        co_return assertion.error();
    }
    flows::grant_params p;
    p.token_endpoint = meta->token_endpoint;
    p.grant_type = "client_credentials";
    if (!c.scopes.empty()) p.fields.emplace_back("scope", c.scope_string());
    p.auth.how = flows::client_auth::method::private_key_jwt;
    p.auth.client_id = c.client_id;
    p.auth.client_assertion = std::move(*assertion);
    flows::grant_flow flow{std::move(p)};
    terminal_user user{detect_terminal(true)};
    transport::ports ports{a.http, a.clock, user};
    auto tokens = co_await transport::async_drive(flow, ports, diag);
    if (!tokens) {
        if (tokens.error() == oauth_errc::invalid_client)
            co_await explain_invalid_client(a, c, k, diag);
        co_return tokens.error();
    }
    co_return login_outcome{std::move(*tokens), login_method::machine};
}

// The grant raced against the deadline; the loser is cancelled (its connection closed).
asio::awaitable<result<login_outcome>> async_timed_machine_grant(app& a, client_config c,
                                                                 const machine_key& k,
                                                                 std::chrono::seconds limit,
                                                                 diagnostics& diag) {
    std::string failure;
    try {
        auto r = co_await (async_machine_grant(a, c, k, diag) ||
                           a.clock.async_wait_until(a.clock.now() + limit));
        if (r.index() == 0) co_return std::get<0>(std::move(r));
        if (std::get<1>(r)) co_return client_errc::cancelled;
        diag.clear();
        diag.client_message = "silent login timed out after " + std::to_string(limit.count()) +
                              " s: the identity provider at " + c.issuer +
                              " did not answer; check that it is up and reachable from here "
                              "(--timeout SECONDS changes the bound)";
        co_return client_errc::timeout;
    } catch (const std::exception& e) {
        failure = e.what();
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) co_return client_errc::cancelled;
    diag.client_message = "silent login failed unexpectedly: " + failure;
    co_return client_errc::bad_input;
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
    auto got = co_await async_timed_machine_grant(a, c, *key, limit, diag);
    if (!got) {
        if (got.error() == client_errc::cancelled) print_error("interrupted; nothing was stored");
        else print_error(describe(got.error(), diag));
        co_return got.error() == client_errc::cancelled ? 130 : 1;
    }
    // Mark the context so `latch token` signs a new assertion instead of refreshing.
    auto& extra = cfg.contexts[ctx].extra;
    extra["machine"] = "true";
    if (!o.key_file.empty()) extra["machine_key_file"] = fs::absolute(o.key_file).string();
    // A named local, not a temporary: GCC 12 destroys temporaries in a co_await
    // expression twice (a machine login needs no metadata there: no userinfo call).
    const provider_metadata no_meta;
    co_return co_await async_store_login(a, std::move(cfg), ctx, c, no_meta, std::move(*got));
}

}  // namespace latchkey::cli
