// `latch machine add|list|rm|rotate`: machine identities registered with the IdP by
// Dynamic Client Registration (RFC 7591) and managed with RFC 7592, each a confidential
// client that authenticates with its own key (private_key_jwt, RFC 7523). The key pair is
// made here; only the public half leaves this computer (and the private half only when
// --key-out writes a copy for a CI runner). Seed 004 (`nvolt machine add`) is the model.
#include "app.hpp"
#include "machine_common.hpp"

#include <latchkey/core/jwk.hpp>
#include <latchkey/core/registration.hpp>
#include <latchkey/transport/token_source.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace latchkey::cli {
namespace asio = boost::asio;
namespace fs = std::filesystem;

std::unique_ptr<transport::token_source> make_source(app& a, const std::string& ctx);  // commands.cpp

key_type to_key_type(const std::string& t) { return t == "rsa-2048" ? key_type::rsa_2048 : key_type::ec_p256; }

// --key-out: a copy of the private key for another computer, created 0600 and never
// over an existing file (it may be someone's key).
error_code write_key_copy(const fs::path& p, const secret& pem, diagnostics& diag) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        diag.client_message = "cannot write the key copy " + p.string() + ": " + std::strerror(errno) +
                              (errno == EEXIST ? " (latch never overwrites a key file)" : "");
        return client_errc::key_error;
    }
    const auto& v = pem.reveal();
    bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        diag.client_message = "cannot write the key copy " + p.string();
        ::unlink(p.c_str());
        return client_errc::key_error;
    }
    return {};
}

result<new_key> make_machine_key(const std::string& type, const machine_metadata& md) {
    auto key = generate_key(to_key_type(type));
    if (!key) return key.error();
    auto pem = private_key_pem(key->get());
    auto kid = jwk_thumbprint(key->get());
    auto body = registration_body(md, key->get());
    if (!pem || !kid || !body) return client_errc::key_error;
    return new_key{std::move(*key), std::move(*pem), std::move(*kid), std::move(*body)};
}

namespace {

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !*buf) return "latch-machine";
    return buf;
}

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

// Stores the registered machine and its key, and the --key-out copy. Prints what failed.
bool store_new_machine(app& a, const machine_options& o, const machine_record& m, const secret& pem) {
    machine_store ms(a.store.home());
    diagnostics diag;
    if (auto ec = ms.save_key(m.machine_id, pem, diag); ec || (ec = ms.save(m, diag))) {
        print_error("the machine " + m.machine_id + " was registered at " + m.issuer + " but cannot be "
                    "stored here: " + describe(ec, diag));
        return false;
    }
    if (!o.key_out.empty()) {
        if (auto ec = write_key_copy(o.key_out, pem, diag)) {
            print_error(describe(ec, diag) + "; the machine is registered and its key is in " +
                        ms.key_path(m.machine_id).string());
            return false;
        }
    }
    return true;
}

void print_added(app& a, const machine_options& o, const machine_record& m, const new_key& k,
                 const client_registration& reg) {
    const auto key_path = machine_store(a.store.home()).key_path(m.machine_id).string();
    const auto id = escape_untrusted(m.machine_id, 128);
    std::fprintf(stderr, "Registered machine '%s' at %s: machine id %s (%s key, private_key_jwt).\n",
                 escape_untrusted(m.name, 80).c_str(), m.issuer.c_str(), id.c_str(),
                 describe_key(k.key.get()).c_str());
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
    client_config c;
    c.issuer = machine_issuer(o, *cfg, ctx);
    if (c.issuer.empty()) {
        print_error("no issuer: pass --issuer URL, set LATCH_ISSUER, or run `latch login` first");
        co_return 2;
    }
    auto bearer = co_await async_registration_bearer(a, o, ctx, c.issuer, diag);
    if (!bearer) { print_error(describe(bearer.error(), diag)); co_return exit_code_for(bearer.error()); }
    auto meta = co_await a.async_discover(c, diag);
    if (!meta) { print_error(describe(meta.error(), diag)); co_return 1; }
    if (meta->registration_endpoint.empty()) {
        print_error("the identity provider at " + c.issuer + " does not offer Dynamic Client "
                    "Registration (no registration_endpoint, RFC 7591); ask its admin to register "
                    "the machine");
        co_return 1;
    }
    machine_metadata md;
    md.client_name = o.name.empty() ? host_name() : o.name;
    auto k = make_machine_key(o.key_type, md);
    if (!k) { print_error("cannot generate a " + o.key_type + " key with OpenSSL"); co_return 1; }

    error_code ec;
    auto resp = co_await a.http.async_send(make_registration_request(meta->registration_endpoint, k->body, *bearer), ec, diag);
    auto reg = ec ? result<client_registration>(ec) : parse_registration_response(resp, diag);
    if (!reg) {
        std::string hint = reg.error() == oauth_errc::invalid_token
            ? " (the token used to register was not accepted; an initial access token from the IdP's admin goes in LATCH_REGISTRATION_TOKEN)" : "";
        print_error("registration refused: " + describe(reg.error(), diag) + hint);
        co_return 1;
    }
    machine_record m;
    m.machine_id = reg->client_id;
    m.name = reg->client_name.empty() ? md.client_name : reg->client_name;
    m.issuer = c.issuer;
    m.key_type = o.key_type;
    m.kid = k->kid;
    m.created_at = m.key_created_at = a.clock.now();
    m.registration_client_uri = reg->registration_client_uri;
    m.registration_access_token = reg->registration_access_token;
    if (!store_new_machine(a, o, m, k->pem)) co_return 1;
    print_added(a, o, m, *k, *reg);
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
    add->add_option("--name", o->name, "Machine name shown at the identity provider (default: the host name)");
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
