// `latch machine add|list|rm|rotate`: machine identities registered with the IdP by
// Dynamic Client Registration (RFC 7591) and managed with RFC 7592, each a confidential
// client that authenticates with its own key (private_key_jwt, RFC 7523). The key pair is
// made here; only the public half leaves this computer (and the private half only when
// --key-out writes a copy for a CI runner). Seed 004 (`nvolt machine add`) is the model.
#include "app.hpp"
#include "machine_common.hpp"

#include <latchkey/transport/token_source.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace latchkey::cli {
namespace asio = boost::asio;
namespace fs = std::filesystem;

std::unique_ptr<transport::token_source> make_source(app& a, const std::string& ctx);  // commands.cpp

namespace {

// The bearer for registration: --registration-token-file > LATCH_REGISTRATION_TOKEN > the
// logged-in user's access token (refreshed if needed). Never from argv: it is a secret.
asio::awaitable<result<secret>> async_registration_bearer(app& a, const machine_options& o,
                                                          const std::string& ctx,
                                                          const std::string& issuer,
                                                          diagnostics& diag) {
    if (!o.registration_token_file.empty()) {
        std::ifstream in(o.registration_token_file, std::ios::binary);
        std::ostringstream text;
        if (in) text << in.rdbuf();
        std::string s = text.str();
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
        if (!in || s.empty()) {
            diag.client_message = "cannot read a registration token from " + o.registration_token_file;
            co_return client_errc::bad_input;
        }
        co_return secret{std::move(s)};
    }
    if (const char* t = std::getenv("LATCH_REGISTRATION_TOKEN"); t && *t) co_return secret{t};
    const std::string how = "`latch machine add` registers the machine with your access token: run "
                            "`latch login` first, or give an initial access token in "
                            "LATCH_REGISTRATION_TOKEN or --registration-token-file FILE";
    auto creds = a.store.load(ctx, diag);
    if (!creds) co_return creds.error();
    if (!*creds || (*creds)->expired || (*creds)->issuer != issuer) {
        diag.client_message = "not logged in (context '" + ctx + "'" +
                              (*creds && (*creds)->issuer != issuer ? ", which is for " + (*creds)->issuer : "") +
                              "); " + how;
        co_return client_errc::not_logged_in;
    }
    if ((*creds)->method == login_method::machine) {
        diag.client_message = "context '" + ctx + "' is a machine login; " + how;
        co_return client_errc::not_logged_in;
    }
    auto source = make_source(a, ctx);  // named: no temporaries in a co_await (GCC 12)
    auto tok = co_await source->token(diag);
    if (!tok) co_return tok.error();
    co_return std::move(*tok);
}

// --issuer > LATCH_ISSUER > the context's issuer.
std::string machine_issuer(const machine_options& o, const config_file& cfg, const std::string& ctx) {
    if (!o.issuer.empty()) return o.issuer;
    if (const char* e = std::getenv("LATCH_ISSUER"); e && *e) return e;
    auto it = cfg.contexts.find(ctx);
    return it == cfg.contexts.end() ? std::string{} : it->second.issuer;
}

// What to say when `latch machine add` failed, by the step it stopped at.
std::string add_failure(const transport::machine_added& r, const diagnostics& diag) {
    using step = transport::machine_step;
    const auto& m = r.record;
    switch (r.step) {
    case step::idp_refused:
    case step::idp_silent:
        return "registration refused: " + describe(r.ec, diag) +
               (r.ec == oauth_errc::invalid_token
                    ? " (the token used to register was not accepted; an initial access token from the IdP's admin goes in LATCH_REGISTRATION_TOKEN)"
                    : "");
    case step::store:
        return "the machine " + m.machine_id + " was registered at " + m.issuer +
               " but cannot be stored here: " + describe(r.ec, diag);
    case step::key_copy:
        return describe(r.ec, diag) + "; the machine is registered and its key is in " + r.key_file.string();
    default:
        return describe(r.ec, diag);
    }
}

void print_added(const machine_options& o, const transport::machine_added& r) {
    const auto& m = r.record;
    const auto& reg = r.registration;
    const auto key_path = r.key_file.string();
    const auto id = escape_untrusted(m.machine_id, 128);
    std::fprintf(stderr, "Registered machine '%s' at %s: machine id %s (%s key, private_key_jwt).\n",
                 escape_untrusted(m.name, 80).c_str(), m.issuer.c_str(), id.c_str(),
                 r.key_description.c_str());
    std::fprintf(stderr, "Private key: %s (0600)\n", key_path.c_str());
    if (!o.key_out.empty())
        std::fprintf(stderr, "Key copy for transfer: %s (0600): store it as a CI secret "
                     "(LATCH_MACHINE_KEY), then delete this copy.\n", o.key_out.c_str());
    if (!reg.token_endpoint_auth_method.empty() && reg.token_endpoint_auth_method != "private_key_jwt")
        print_error("warning: the identity provider registered the machine with " +
                    escape_untrusted(reg.token_endpoint_auth_method, 40) + ", not private_key_jwt; silent login may fail");
    if (reg.registration_access_token.empty())
        print_error("warning: the identity provider gave no registration access token (RFC 7592): "
                    "`latch machine rm/rotate` cannot manage this machine there");
    std::fprintf(stderr, "Silent login: LATCH_ISSUER=%s LATCH_CLIENT_ID=%s LATCH_MACHINE_KEY=\"$(cat %s)\" latch login --machine\n",
                 m.issuer.c_str(), id.c_str(), o.key_out.empty() ? key_path.c_str() : o.key_out.c_str());
    std::printf("%s\n", m.machine_id.c_str());  // stdout: the id alone, for scripts
}

asio::awaitable<int> machine_add(app& a, machine_options o) {
    diagnostics diag;
    auto cfg = a.store.load_config(diag);
    if (!cfg) { print_error(describe(cfg.error(), diag)); co_return 1; }
    const auto ctx = a.context_name(*cfg);
    transport::machine_add_params p;
    p.issuer = machine_issuer(o, *cfg, ctx);
    if (p.issuer.empty()) {
        print_error("no issuer: pass --issuer URL, set LATCH_ISSUER, or run `latch login` first");
        co_return 2;
    }
    auto bearer = co_await async_registration_bearer(a, o, ctx, p.issuer, diag);
    if (!bearer) { print_error(describe(bearer.error(), diag)); co_return exit_code_for(bearer.error()); }
    p.bearer = std::move(*bearer);
    p.name = o.name;
    p.key_type = o.key_type;
    p.key_copy = o.key_out;
    diag.clear();
    auto machines = machines_of(a);
    auto added = co_await machines.async_add(std::move(p), diag);
    if (added.ec) { print_error(add_failure(added, diag)); co_return 1; }
    print_added(o, added);
    co_return 0;
}

}  // namespace

}  // namespace latchkey::cli

#include <CLI/CLI.hpp>

namespace latchkey::cli {

void register_machine_commands(CLI::App& cli, command_fn& selected) {
    auto* mc = cli.add_subcommand("machine", "Machine identities for silent logins (RFC 7591 registration, private_key_jwt)");
    mc->require_subcommand(1);
    auto o = std::make_shared<machine_options>();
    const auto key_types = CLI::IsMember({"ec-p256", "rsa-2048"});

    auto* add = mc->add_subcommand("add", "Make a key pair and register this machine with the identity provider");
    add->add_option("name,--name", o->name, "Machine name shown at the identity provider (default: the host name)");
    add->add_option("--key-type", o->key_type, "ec-p256 (default) or rsa-2048")->check(key_types);
    add->add_option("--key-out", o->key_out, "Also write the private key to FILE (0600) for transfer to a CI runner");
    add->add_option("--issuer", o->issuer, "Issuer URL (env LATCH_ISSUER; default: the context's)");
    add->add_option("--registration-token-file", o->registration_token_file,
                    "File holding an initial access token (else env LATCH_REGISTRATION_TOKEN, else your login's access token)");
    add->callback([o, &selected] { selected = [o](app& a) { return machine_add(a, *o); }; });

    auto* list = mc->add_subcommand("list", "List the machines registered from here");
    list->add_flag("--remote", o->remote, "Also ask the identity provider what it still knows (RFC 7592 read)");
    list->callback([o, &selected] { selected = [o](app& a) { return machine_list(a, *o); }; });

    auto* rm = mc->add_subcommand("rm", "Delete a machine at the identity provider (RFC 7592), then its local key");
    rm->add_option("id", o->id, "Machine id or name")->required();
    rm->add_flag("--local-only", o->local_only, "Only remove the local key and record; leave the identity provider alone");
    rm->callback([o, &selected] { selected = [o](app& a) { return machine_rm(a, *o); }; });

    auto* rot = mc->add_subcommand("rotate", "Give a machine a new key (RFC 7592 update); the old key stops working");
    rot->add_option("id", o->id, "Machine id or name")->required();
    rot->add_option("--key-type", o->key_type, "ec-p256 or rsa-2048 (default: the machine's current type)")->check(key_types);
    rot->add_option("--key-out", o->key_out, "Also write the new private key to FILE (0600)");
    rot->callback([o, rot, &selected] {
        o->rotate_key_type_given = rot->count("--key-type") > 0;
        selected = [o](app& a) { return machine_rotate(a, *o); };
    });
}

}  // namespace latchkey::cli
