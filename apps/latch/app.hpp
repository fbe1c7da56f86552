// The composition root of the `latch` CLI: one io_context, the real ports, the store.
#pragma once

#include "terminal.hpp"

#include <latchkey/core/provider.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/transport/http_client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/fwd.hpp>

#include <functional>
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

    // The context this invocation acts on (flag > LATCH_CONTEXT > current > "default").
    std::string context_name(const config_file& cfg) const;

    // GET the discovery document (explicit endpoints override it).
    boost::asio::awaitable<result<provider_metadata>> async_discover(const client_config& c,
                                                                     diagnostics& diag);
    // Who the tokens belong to: the verified ID-token claims (`id_claims`, may be null)
    // first, gaps filled from userinfo.
    boost::asio::awaitable<identity> async_identify(const provider_metadata& m,
                                                    const token_set& t,
                                                    const boost::json::object* id_claims = nullptr);
};

// Browser (authorization code + PKCE) and hybrid logins; see login_browser.cpp.
enum class login_mode { device, browser, hybrid };
struct login_outcome {
    token_set tokens;
    std::string method;  // "device", "browser", "browser-pasted", "callback-url", ...: who won
    std::optional<std::string> nonce{};  // the nonce the ID token must carry, if one was sent
};
login_mode choose_login_mode(const login_options& o, const provider_metadata& m);
boost::asio::awaitable<result<login_outcome>> async_interactive_login(
    app& a, const client_config& c, const provider_metadata& m, const login_options& o,
    login_mode mode, diagnostics& diag);

// Non-interactive grants (password, client credentials); see login_grants.cpp.
boost::asio::awaitable<result<login_outcome>> async_grant_login(
    app& a, const client_config& c, const provider_metadata& m, const login_options& o,
    diagnostics& diag);

// `latch token` for a client-credentials login: re-obtains instead of refreshing.
boost::asio::awaitable<int> run_token_client_credentials(app& a, stored_credentials creds);

// Stores what a login obtained under `ctx`, remembers the client in the context and says
// who is logged in. Returns the exit code.
boost::asio::awaitable<int> async_store_login(app& a, config_file cfg, const std::string& ctx,
                                              const client_config& client,
                                              const provider_metadata& meta,
                                              login_outcome outcome);

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

extern const char* const exit_codes_help;

}  // namespace latchkey::cli
