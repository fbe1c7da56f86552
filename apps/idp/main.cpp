// latch-idp: an OpenID Provider on latchkey's own framework, with SQLite or PostgreSQL.
//
//   latch-idp serve --data DIR [--database postgresql://...] [--secret-key-file FILE]
//                   [--trusted-proxy CIDR]... [--behind-proxy]
//                   [--listen 127.0.0.1:PORT] [--issuer URL] [--trusted-origin URL]...
//                   [--signing-alg RS256] [--tls-cert FILE --tls-key FILE] [--config FILE]
//   latch-idp user add USERNAME --data DIR [--password-file FILE]   (else $LATCH_IDP_PASSWORD)
//   latch-idp user add ... [--role user|admin|platform-admin]; user set-role USERNAME ROLE --data DIR
//   latch-idp user list|rm ...
//   latch-idp client add ID --data DIR (--public | --confidential) [--redirect-uri URI]...
//                           [--grant GRANT]... [--scope "a b"] [--name NAME]
//   latch-idp client list|rm ...
//   latch-idp keys rotate --data DIR [--alg ES256|RS256]
//   latch-idp platform add NAME --data DIR [--host HOST] [--issuer URL]; platform list|rm ...
//   (user, client and keys commands take --platform NAME to act on one platform's data)
//   latch-idp social add NAME --data DIR --issuer URL --client-id ID [--client-secret-file F] [--scope S]
//   latch-idp social list|rm ...   (social commands take --platform NAME too)
// Every admin command takes --database postgresql://... instead of (or beside) --data DIR.
// Secrets never come from argv: passwords from a file or the environment; a confidential
// client's secret is generated, printed once on stdout and stored hashed.
#include "idp.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace {

using namespace latchkey::idp;

// `--platform NAME` on an admin command: act on that platform's data (DATA/platforms/NAME).
void platform_option(CLI::App* cmd, std::string& platform) {
    cmd->add_option("--platform", platform, "act on this platform's data (latch-idp platform add)");
}

// Where an admin command finds the records: --data DIR (SQLite) or --database URI.
void add_location(CLI::App* cmd, store_location& at) {
    cmd->add_option("--data", at.data, "data directory (SQLite); required unless --database");
    cmd->add_option("--database", at.database, "a PostgreSQL URI (postgresql://user@host:port/db) instead of SQLite");
}

void add_user_commands(CLI::App& app, user_add_options& ua, store_location& data, std::string& name,
                       std::string& platform, std::function<int()>& run) {
    auto* user = app.add_subcommand("user", "manage users")->require_subcommand(1);
    auto* add = user->add_subcommand("add", "add a user (password from --password-file or $LATCH_IDP_PASSWORD)");
    add->add_option("username", ua.username)->required();
    add_location(add, ua.at);
    add->add_option("--password-file", ua.password_file, "file holding the password (first line)");
    add->add_option("--id", ua.id, "the user's subject (sub); default: random");
    add->add_option("--email", ua.email, "email address (the `email` claim)");
    add->add_option("--name", ua.name, "display name (the `name` claim)");
    add->add_option("--role", ua.role, "platform role: user (default), admin or platform-admin");
    add->callback([&] { run = [&] { return use_platform(ua.at.data, platform) ? user_add(ua) : 1; }; });
    auto* list = user->add_subcommand("list", "list users");
    add_location(list, data);
    list->callback([&] { run = [&] { return use_platform(data.data, platform) ? user_list(data) : 1; }; });
    auto* rm = user->add_subcommand("rm", "remove a user");
    rm->add_option("username", name)->required();
    add_location(rm, data);
    rm->callback([&] { run = [&] { return use_platform(data.data, platform) ? user_rm(data, name) : 1; }; });
    auto* set_role = user->add_subcommand("set-role", "set a user's platform role (user, admin, platform-admin)");
    set_role->add_option("username", name)->required();
    set_role->add_option("role", ua.role)->required();
    add_location(set_role, data);
    set_role->callback(
        [&] { run = [&] { return use_platform(data.data, platform) ? user_set_role(data, name, ua.role) : 1; }; });
    for (auto* c : {add, list, rm, set_role}) platform_option(c, platform);
}

void add_client_commands(CLI::App& app, client_add_options& ca, store_location& data, std::string& name,
                         std::string& platform, std::function<int()>& run) {
    auto* client = app.add_subcommand("client", "manage OAuth clients")->require_subcommand(1);
    auto* add = client->add_subcommand("add", "register a client (a confidential client's secret is printed once)");
    add->add_option("client_id", ca.client_id)->required();
    add_location(add, ca.at);
    auto* conf = add->add_flag("--confidential", ca.confidential, "a client with a secret");
    add->add_flag("--public", ca.public_client, "a client without a secret (native apps, CLIs)")->excludes(conf);
    add->add_option("--redirect-uri", ca.redirect_uris, "allowed redirect URI (repeatable)");
    add->add_option("--grant", ca.grants, "allowed grant type (repeatable)");
    add->add_option("--scope", ca.scope, "scopes the client may ask for, space-separated");
    add->add_option("--name", ca.name, "display name");
    add->add_flag("--skip-consent", ca.skip_consent,
                  "a trusted first-party client: signing in is consent (no consent page)");
    add->add_option("--post-logout-redirect-uri", ca.post_logout_redirect_uris,
                    "where RP-initiated logout may send the browser back (exact, repeatable)");
    add->add_option("--secret-file", ca.secret_file, "a confidential client's secret (first line of FILE); default: generated, printed once");
    add->callback([&] { run = [&] { return use_platform(ca.at.data, platform) ? client_add(ca) : 1; }; });
    auto* list = client->add_subcommand("list", "list clients");
    add_location(list, data);
    list->callback([&] { run = [&] { return use_platform(data.data, platform) ? client_list(data) : 1; }; });
    auto* rm = client->add_subcommand("rm", "remove a client");
    rm->add_option("client_id", name)->required();
    add_location(rm, data);
    rm->callback([&] { run = [&] { return use_platform(data.data, platform) ? client_rm(data, name) : 1; }; });
    for (auto* c : {add, list, rm}) platform_option(c, platform);
}

void add_platform_commands(CLI::App& app, platform_add_options& pa, bool& yes, std::function<int()>& run) {
    auto* platform = app.add_subcommand("platform", "manage platforms: one process serves each with its own "
                                                    "database, keys and users")->require_subcommand(1);
    auto* add = platform->add_subcommand("add", "provision a platform (DATA/platforms/NAME: its database with "
                                                "the migrations run, its keys)");
    add->add_option("name", pa.name, "lowercase letters, digits and '-', at most 32")->required();
    add->add_option("--data", pa.data, "data directory")->required();
    add->add_option("--host", pa.host, "serve it to requests for this host name (e.g. auth.acme.example); "
                                       "default: under the path /p/NAME/");
    add->add_option("--issuer", pa.issuer, "its issuer URL (default: https://HOST, http://HOST:PORT, or "
                                           "the listener's URL + /p/NAME)");
    add->callback([&] { run = [&] { return platform_add(pa); }; });
    auto* list = platform->add_subcommand("list", "list platforms: name, host or path, issuer");
    list->add_option("--data", pa.data, "data directory")->required();
    list->callback([&] { run = [&] { return platform_list(pa.data); }; });
    auto* rm = platform->add_subcommand("rm", "delete a platform and all its data (asks for --yes)");
    rm->add_option("name", pa.name)->required();
    rm->add_option("--data", pa.data, "data directory")->required();
    rm->add_flag("--yes", yes, "yes, delete its database, keys, users and clients");
    rm->callback([&] { run = [&] { return platform_rm(pa.data, pa.name, yes); }; });
}

void add_social_commands(CLI::App& app, social_add_options& so, store_location& data, std::string& name,
                         std::string& platform, std::function<int()>& run) {
    auto* social = app.add_subcommand("social", "manage upstream OpenID Providers (\"Sign in with NAME\")")
                       ->require_subcommand(1);
    auto* add = social->add_subcommand("add", "add or replace a provider; register ISSUER/api/auth/callback/NAME there");
    add->add_option("name", so.name, "the button's name, e.g. google ([a-z0-9_-])")->required();
    add_location(add, so.at);
    add->add_option("--issuer", so.issuer, "the provider's issuer URL (discovery)")->required();
    add->add_option("--client-id", so.client_id, "latch-idp's client id at the provider")->required();
    add->add_option("--client-secret-file", so.secret_file,
                    "file holding the client secret (first line; stored sealed). Without it: a public client");
    add->add_option("--scope", so.scope, "scopes to ask for (default \"openid email profile\")");
    add->callback([&] { run = [&] { return use_platform(so.at.data, platform) ? social_add(so) : 1; }; });
    auto* list = social->add_subcommand("list", "list providers");
    add_location(list, data);
    list->callback([&] { run = [&] { return use_platform(data.data, platform) ? social_list(data) : 1; }; });
    auto* rm = social->add_subcommand("rm", "remove a provider");
    rm->add_option("name", name)->required();
    add_location(rm, data);
    rm->callback([&] { run = [&] { return use_platform(data.data, platform) ? social_rm(data, name) : 1; }; });
    for (auto* c : {add, list, rm}) platform_option(c, platform);
}

// `serve --config FILE`: each key names a flag of `cmd` (without "--"), at the top level or
// in a [serve] section; a flag given on the command line wins. The file holds settings
// only: secrets stay in files named by path (--tls-key) or in the environment. Returns an
// error message, empty when fine.
std::string apply_config_file(CLI::App& cmd, const std::string& file) {
    std::vector<CLI::ConfigItem> items;
    try {
        items = CLI::ConfigTOML().from_file(file);
    } catch (const CLI::Error& e) {
        return std::string("--config: ") + e.what();
    }
    for (const auto& it : items) {
        if (it.name == "++" || it.name == "--") continue;  // section markers
        const bool placed = it.parents.empty() || (it.parents.size() == 1 && it.parents[0] == "serve");
        auto* opt = placed && it.name != "config" ? cmd.get_option_no_throw("--" + it.name) : nullptr;
        if (!opt) return file + ": unknown option '" + it.name + "'";
        if (opt->count() > 0) continue;  // given on the command line
        opt->add_result(it.inputs);
        try {
            opt->run_callback();
        } catch (const CLI::Error& e) {
            return file + ": " + e.what();
        }
    }
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"latch-idp: an OpenID Provider with SQLite or PostgreSQL storage"};
    app.set_version_flag("--version", std::string("latch-idp ") + LATCH_VERSION);
    app.require_subcommand(1);
    std::function<int()> run;

    serve_options so;
    auto* serve_cmd = app.add_subcommand("serve", "run the server");
    serve_cmd->add_option("--data", so.data, "data directory (created 0700); required");
    serve_cmd->add_option("--listen", so.listen, "address:port to listen on (port 0: a free one)");
    serve_cmd->add_option("--issuer", so.issuer, "issuer URL (default: http://<listen address>)");
    serve_cmd->add_option("--access-token-ttl", so.access_token_ttl, "access token lifetime, seconds")
        ->check(CLI::Range(std::int64_t{30}, std::int64_t{86400}));
    serve_cmd->add_option("--device-interval", so.device_interval, "device flow polling interval, seconds")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{60}));
    serve_cmd->add_option("--trusted-origin", so.trusted_origins,
                          "an origin (besides the issuer's) allowed to call /api/auth/* (repeatable)");
    serve_cmd->add_option("--sign-in-limit", so.sign_in_limit_per_ip, "sign-in attempts per minute per IP (default 30)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1000000}));
    serve_cmd->add_option("--sign-in-limit-total", so.sign_in_limit_total,
                          "sign-in attempts per minute in total (default 600)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10000000}));
    serve_cmd->add_option("--signing-alg", so.signing_alg,
                          "sign with the newest key of this alg, made if there is none: ES256 or RS256 "
                          "(default: the newest key; ES256 at first start)")
        ->check(CLI::IsMember({"ES256", "RS256"}));
    serve_cmd->add_option("--tls-cert", so.tls_cert, "serve https with this certificate chain (PEM file)");
    serve_cmd->add_option("--tls-key", so.tls_key, "the certificate's private key (PEM file, keep it 0600)");
    serve_cmd->add_option("--initial-access-token-file", so.initial_access_token_file,
                          "a file whose first line is an RFC 7591 initial access token: its holder may register "
                          "machines (users may with their own access token)");
    serve_cmd->add_option("--audit-log", so.audit_log,
                          "append sign-ins, sign-ups, two-factor, consent and registration events to FILE as JSON "
                          "lines (made 0600)");
    serve_cmd->add_option("--metrics-listen", so.metrics_listen,
                          "serve /metrics (Prometheus text), /healthz and /readyz on ADDRESS:PORT, e.g. "
                          "127.0.0.1:9464 (default: no /metrics)");
    serve_cmd->add_option("--mail-file", so.mail_file,
                          "append outgoing mail (invitations) to FILE, one JSON line each (made 0600)");
    serve_cmd->add_option("--mail-command", so.mail_command,
                          "run CMD (program and arguments split on spaces, no shell) for each outgoing mail, "
                          "the mail as JSON on its stdin; killed after 10 s");
    serve_cmd->add_option("--database", so.database,
                          "keep the records in PostgreSQL (postgresql://user@host:port/db) instead of SQLite in "
                          "DATA: replicas on one database share sessions, codes, keys and rate limits");
    serve_cmd->add_option("--database-pool", so.database_pool, "PostgreSQL connections at most (default 4)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
    serve_cmd->add_option("--secret-key-file", so.secret_key_file,
                          "the 32-byte sealing key (0600) instead of DATA/secret.key: give replicas the same one");
    serve_cmd->add_option("--trusted-proxy", so.trusted_proxies,
                          "a reverse proxy (address or CIDR, repeatable) whose X-Forwarded-For is believed for the "
                          "client address (rate limits, audit, sessions)");
    serve_cmd->add_flag("--behind-proxy", so.behind_proxy,
                        "requests come through reverse proxies: refuse to start unless --trusted-proxy names them");
    std::string config_file;
    serve_cmd->add_option("--config", config_file,
                          "read options from FILE: TOML, the flags' names as keys (listen = \"127.0.0.1:8443\"); "
                          "flags override it");
    serve_cmd->callback([&] {
        run = [&] {
            if (!config_file.empty())
                if (auto e = apply_config_file(*serve_cmd, config_file); !e.empty()) return fail("latch-idp: " + e);
            if (so.data.empty()) return fail("latch-idp: --data is required (or `data` in the --config file)");
            return serve(so);
        };
    });

    store_location keys_at;
    std::string keys_alg = "ES256", keys_audit;
    auto* keys_cmd = app.add_subcommand("keys", "manage signing keys")->require_subcommand(1);
    auto* rotate = keys_cmd->add_subcommand("rotate", "add a new signing key (used from the next start; the old one "
                                                      "stays published until its tokens expire)");
    add_location(rotate, keys_at);
    rotate->add_option("--alg", keys_alg, "ES256 (default) or RS256")->check(CLI::IsMember({"ES256", "RS256"}));
    rotate->add_option("--audit-log", keys_audit, "append a key_rotate event to this audit log (JSON lines)");
    std::string platform;
    platform_option(rotate, platform);
    rotate->callback([&] {
        run = [&] { return use_platform(keys_at.data, platform) ? keys_rotate(keys_at, keys_alg, keys_audit) : 1; };
    });

    user_add_options ua;
    client_add_options ca;
    store_location data;
    std::string name;
    add_user_commands(app, ua, data, name, platform, run);
    add_client_commands(app, ca, data, name, platform, run);
    platform_add_options pa;
    bool yes = false;
    add_platform_commands(app, pa, yes, run);
    social_add_options sa;
    add_social_commands(app, sa, data, name, platform, run);

    CLI11_PARSE(app, argc, argv);
    try {
        return run ? run() : 2;
    } catch (const std::exception& e) {
        return fail(std::string("latch-idp: ") + e.what());
    }
}
