// The composition root of the `latch` CLI: one io_context, the real ports, the store.
#pragma once

#include "terminal.hpp"

#include <latchkey/core/provider.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/transport/browser.hpp>
#include <latchkey/transport/client_services.hpp>
#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/login.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/fwd.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace CLI { class App; }

namespace latchkey::cli {

// Options every command shares.
struct global_options {
    std::string context;     // --context; empty = LATCH_CONTEXT, else the current one
    std::string ca_file;     // --ca-file
    bool no_auto_refresh = false;
    bool debug = false;      // --debug (or LATCH_DEBUG=1): HTTP trace on stderr, secrets redacted
};

struct login_options {
    std::string issuer;
    std::string client_id;
    std::vector<std::string> scopes;
    bool device = false;
    bool browser = false;
    bool no_browser_open = false;
    int port = 0;  // loopback listener port; 0 = ephemeral (RFC 8252 §7.3)
    int timeout_s = 300;
    bool no_qr = false;
    bool password = false;            // --password: RFC 6749 §4.3 (see login_grants.cpp)
    bool client_credentials = false;  // --client-credentials: RFC 6749 §4.4
    std::string client_secret_file;   // --client-secret-file (else LATCH_CLIENT_SECRET)
    bool with_token = false;          // --with-token: import a token from stdin (login_import.cpp)
    std::optional<long long> expires_in_s;  // --expires-in (import)
    std::string lookup_url;           // --lookup-url (import; else LATCH_LOOKUP_URL, context)
    bool machine = false;             // --machine: silent login with a machine key (machine_login.cpp)
    std::string machine_name;         // --machine NAME: id or name from `latch machine add`
    std::string username;             // --username (password grant; else LATCH_USERNAME)
    std::string audience;             // --audience: the `audience` request parameter
    std::string key_file;             // --key-file (else LATCH_MACHINE_KEY, else the local key)
    bool dpop = false;                // --dpop: DPoP proofs even if the IdP does not advertise them
    bool timeout_given = false;       // --timeout was passed (silent logins default to 120 s)
    std::string callback_url;         // --callback-url URL, or "-": read it from stdin
};

struct status_options { bool json = false; };

// What a command needs, built once per process.
class app {
public:
    app(boost::asio::io_context& io, global_options g, credential_store store);

    boost::asio::io_context& io;
    global_options global;
    credential_store store;
    transport::http_client http;
    transport::real_clock clock;
    transport::client_services client;  // discovery and JWKS caches of this process's client
    // Opens the browser of a login and reaps its launchers; made on first use (the
    // environment check costs `latch token` nothing).
    transport::browser_launcher& browser();

private:
    std::optional<transport::browser_launcher> browser_;

public:
    // The context this invocation acts on (flag > LATCH_CONTEXT > current > "default").
    std::string context_name(const config_file& cfg) const;

    // GET the discovery document (explicit endpoints override it).
    boost::asio::awaitable<result<provider_metadata>> async_discover(const client_config& c,
                                                                     diagnostics& diag);
};

// The config and the context this invocation acts on (app::context_name), for a command
// that acts on one. On failure the error is printed and `exit_code` is what the command
// returns: 1 when the config cannot be read, 2 for an invalid context name and, with
// `known_only` (commands that read a login, not login itself), for a mistyped one.
struct current_context {
    config_file cfg;
    std::string name;
    int exit_code = 0;
};
current_context load_current_context(app& a, diagnostics& diag, bool known_only = false);
// Issue 17 #3: "no context named 'nope'; the contexts are: a, b (...)" when `name` came
// from --context or LATCH_CONTEXT and neither config.json nor a credentials file knows
// it (a typo); empty otherwise. The name is escaped for the terminal.
std::string mistyped_context_message(const app& a, const config_file& cfg, const std::string& name);

// Saves what a login obtained under `ctx` (transport::async_save_login: under the lock),
// says who is logged in, then runs the context's gateway exchange. Returns the exit code.
boost::asio::awaitable<int> async_store_login(app& a, const std::string& ctx,
                                              const client_config& client,
                                              const transport::login_result& login,
                                              transport::save_options opts = {});

// login_grants.cpp: secrets and prompts of the non-interactive logins.
std::optional<std::string> env_value(const char* name);  // unset or empty: nullopt
// --client-secret-file > LATCH_CLIENT_SECRET; empty optional when neither is given.
result<std::optional<secret>> read_client_secret(const login_options& o, diagnostics& diag);
// Asks on the terminal (stderr), reads stdin without blocking the io_context.
class terminal_prompt final : public transport::credentials_prompt {
public:
    explicit terminal_prompt(app& a) : a_(a) {}
    boost::asio::awaitable<std::optional<std::string>> async_prompt(std::string prompt,
                                                                    bool echo) override;
private:
    app& a_;
};
bool can_prompt();  // stdin and stderr are terminals


// Each command returns the process exit code.
boost::asio::awaitable<int> run_login(app& a, login_options o);
boost::asio::awaitable<int> run_status(app& a, status_options o);
boost::asio::awaitable<int> run_token(app& a);
boost::asio::awaitable<int> run_logout(app& a);

// Each file of the CLI registers its own subcommands; the parsed one stores the command to
// run in `selected` (its options live in shared state captured by the callback).
using command_fn = std::function<boost::asio::awaitable<int>(app&)>;
void register_login(CLI::App& cli, command_fn& selected);
void register_session_commands(CLI::App& cli, command_fn& selected);  // status, token, logout
void register_context_commands(CLI::App& cli, command_fn& selected);  // context add/use/list/...

// `latch login --with-token` (login_import.cpp): `cfg`/`ctx` as run_login resolved them.
boost::asio::awaitable<int> run_login_import(app& a, config_file cfg, std::string ctx,
                                             login_options o);
void register_import_options(CLI::App& login, login_options& o);

// Gateway sessions (gateway.cpp). After a login stored `creds` in a context `c` that names a
// gateway, exchanges the ID token for a session and stores it; returns the exit code (0
// when there is no gateway).
boost::asio::awaitable<int> async_gateway_after_login(app& a, context_config c,
                                                      stored_credentials creds);
// `latch context add` options --gateway, --gateway-*-field, --lookup-url: into `settings`
// (context_config::extra keys; empty values mean "not given").
void add_context_setting_options(CLI::App& add, std::map<std::string, std::string>& settings);
// One line for `latch status`; empty when the credentials hold no gateway session.
std::string gateway_status_line(const stored_credentials& c, time_point now);
// `latch token` and its --gateway / --exchange modes (gateway.cpp, token_exchange.cpp).
struct token_options {
    bool gateway = false;   // --gateway: the context's gateway session token
    bool exchange = false;  // --exchange: RFC 8693 token exchange
    std::string audience;   // --audience
    std::vector<std::string> scopes;  // --scope, repeatable
    std::vector<std::string> dpop_proof;  // --dpop-proof METHOD URL (dpop_proof.cpp)
    std::string dpop_nonce;               // --nonce: a resource server's DPoP-Nonce
};
void register_token_modes(CLI::App& token, command_fn& selected);
boost::asio::awaitable<int> run_token_gateway(app& a);
boost::asio::awaitable<int> run_token_exchange(app& a, token_options o);
boost::asio::awaitable<int> run_token_dpop_proof(app& a, token_options o);
// Machine identity: RFC 7591/7592 registration (machine.cpp) and silent login with
// private_key_jwt (machine_login.cpp).
void register_machine_commands(CLI::App& cli, command_fn& selected);  // machine add/list/rm/rotate
boost::asio::awaitable<int> run_machine_login(app& a, config_file cfg, const std::string& ctx,
                                              const client_config& client, const login_options& o);

extern const char* const exit_codes_help;

}  // namespace latchkey::cli
