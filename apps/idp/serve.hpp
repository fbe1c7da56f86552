// latch-idp serve's pieces shared by the single-platform server (serve.cpp) and the
// multi-platform one (serve_platforms.cpp).
#pragma once

#include "idp.hpp"
#include "mail.hpp"
#include "ops.hpp"
#include "social.hpp"

#include <latchkey/flows/server/user_code.hpp>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>

namespace latchkey::idp {

// Hashing: one thread per core, at most 64 sign-ins waiting (then 503 + Retry-After).
inline constexpr std::size_t hashing_capacity = 64;

// One data directory served: its store and counters, and the state that references them.
struct served_data {
    std::unique_ptr<ts::store> store;
    std::unique_ptr<ops_state> ops = std::make_unique<ops_state>();
    std::unique_ptr<idp_state> state;
    std::unique_ptr<social_hub> social;  // its "Sign in with ..." clients (attach_social)
    std::unique_ptr<mail_sink> mail;     // --mail-file / --mail-command (invitations)
};
// Gives the served state its social-login clients, on the server's io_context.
void attach_social(served_data& d, boost::asio::any_io_executor ex);

// Opens `dir` (database, sealing key, signing keys; the audit log of --audit-log) and builds
// its state, all but what depends on the listener (issuer, server). Prints the error and
// returns false when it cannot; `what` prefixes the messages ("latch-idp: ").
// `at`: SQLite in at.data, or PostgreSQL (at.database); `secret_key_file`: the sealing key's
// file instead of DATA/secret.key (replicas share one).
bool open_served(served_data& out, const serve_options& o, const store_location& at, const std::string& secret_key_file,
                 ts::password_hasher& hasher, const flows::server::user_code_limits& limits, std::size_t code_length,
                 const std::string& what);
// Completes a state once its issuer is known: discovery, trusted origins, the initial access
// token (from `initial_access_token_file` when set). Prints the error and returns false when
// it cannot.
bool finish_state(idp_state& st, const serve_options& o, std::string issuer, const std::string& initial_access_token_file,
                  const std::string& what);

// RFC 8628 §5.1: the user code length for these limits (printed), 0 when no length makes a
// code unguessable (error printed).
std::size_t checked_user_code_length(const flows::server::user_code_limits& limits);

// "127.0.0.1:8080", "[::1]:0". false when malformed.
bool split_listen(const std::string& s, std::string& host, std::uint16_t& port);
std::string url_host(const std::string& host);

// The listeners of one serve: the main one (TLS when asked) and --metrics-listen's.
// listen(): binds both, returns the main URL (scheme://host:port) or empty (error printed).
// run(): serves until SIGTERM/SIGINT, then drains; prints the URL first (one line on
// stdout: tests and scripts read it).
struct listeners {
    ts::http_server& main;
    ts::http_server& metrics;
    std::function<void()> on_drain = {};  // called at SIGTERM/SIGINT, before draining
    std::string listen(const serve_options& o, std::uint16_t* bound_port);
    int run(boost::asio::io_context& io, const serve_options& o, const std::string& url);
};

// Serves every platform of DATA/platforms on one listener (serve_platforms.cpp).
int serve_platforms(const serve_options& o, const std::vector<platform_info>& platforms, std::size_t code_length);

}  // namespace latchkey::idp
