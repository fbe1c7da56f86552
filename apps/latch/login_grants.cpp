// Non-interactive logins: the resource owner password grant (RFC 6749 §4.3, for CI that
// has no browser; seed 002) and client credentials (§4.4, for services). Secrets come from
// the environment or a file, never from argv (other users can read it in `ps`).
#include "app.hpp"

#include <latchkey/transport/login.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace latchkey::cli {
namespace asio = boost::asio;

std::optional<std::string> env_value(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

// --client-secret-file > LATCH_CLIENT_SECRET. Empty optional when neither is given.
result<std::optional<secret>> read_client_secret(const login_options& o, diagnostics& diag) {
    if (!o.client_secret_file.empty()) {
        std::ifstream in(o.client_secret_file, std::ios::binary);
        if (!in) {
            diag.client_message = "cannot read the client secret file " + o.client_secret_file;
            return client_errc::bad_input;
        }
        std::ostringstream text;
        text << in.rdbuf();
        std::string s = text.str();
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        if (s.empty()) {
            diag.client_message = "the client secret file " + o.client_secret_file + " is empty";
            return client_errc::bad_input;
        }
        return std::optional<secret>(secret{std::move(s)});
    }
    if (auto v = env_value("LATCH_CLIENT_SECRET")) return std::optional<secret>(secret{std::move(*v)});
    return std::optional<secret>{};
}

// Prompts on the terminal and awaits one line from stdin (a TTY) without blocking the
// io_context; with echo off for the password. Empty optional on EOF or cancellation.
asio::awaitable<std::optional<std::string>> terminal_prompt::async_prompt(std::string prompt,
                                                                          bool echo) {
    std::optional<echo_off> quiet;
    if (!echo) quiet.emplace();  // before the prompt: typing may follow at once
    std::fputs(prompt.c_str(), stderr);
    std::fflush(stderr);
    asio::posix::stream_descriptor in(a_.io, ::dup(STDIN_FILENO));
    std::string buf;
    auto [ec, n] = co_await asio::async_read_until(in, asio::dynamic_buffer(buf), '\n',
                                                   asio::as_tuple(asio::use_awaitable));
    quiet.reset();
    if (ec) co_return std::nullopt;
    std::string line = buf.substr(0, n - 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    co_return line;
}

// The password grant asks on a terminal only.
bool can_prompt() { return ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO); }

// `latch token` for a client-credentials context: there is no refresh token, so within
// 5 minutes of expiry (the CLI's refresh window) the grant is simply made again with the
// secret from LATCH_CLIENT_SECRET (latch never stores a client secret).
asio::awaitable<int> run_token_client_credentials(app& a, stored_credentials creds) {
    const auto window = std::chrono::seconds{300};
    if (!creds.expired &&
        (a.global.no_auto_refresh ? creds.tokens.valid_at(a.clock.now())
                                  : creds.tokens.valid_at(a.clock.now(), window))) {
        const auto& t = creds.tokens.access_token.reveal();
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fputc('\n', stdout);
        co_return 0;
    }
    const auto again = "the client credentials token of context '" + creds.context + "' ";
    if (a.global.no_auto_refresh || !env_value("LATCH_CLIENT_SECRET")) {
        print_error(again + "expired; set LATCH_CLIENT_SECRET so `latch token` can obtain a new "
                            "one, or run `latch login --client-credentials`");
        co_return 77;
    }
    diagnostics diag;
    client_config c;
    c.issuer = creds.issuer;
    c.client_id = creds.client_id;
    if (!creds.tokens.scope.empty()) c.scopes = {creds.tokens.scope};  // the same grant again
    // Discovery first (async_login then finds it cached): its failure is an ordinary error.
    auto meta = co_await a.async_discover(c, diag);
    if (!meta) { print_error(describe(meta.error(), diag)); co_return exit_code_for(meta.error()); }
    transport::login_options lo;
    lo.way = transport::login_way::client_credentials;
    lo.client_secret = secret{*env_value("LATCH_CLIENT_SECRET")};
    lo.send_scope = !c.scopes.empty();
    terminal_user user{detect_terminal(true)};
    auto got = co_await transport::async_login(a.client, c, lo, {user}, diag);
    if (!got) {
        print_error(again + "could not be re-obtained: " + describe(got.error(), diag));
        co_return got.error() == client_errc::cancelled ? 130 : 77;
    }
    creds.tokens = std::move(got->tokens);
    creds.obtained_at = a.clock.now();
    if (auto ec = a.store.save(creds, diag)) { print_error(describe(ec, diag)); co_return 1; }
    const auto& t = creds.tokens.access_token.reveal();
    std::fwrite(t.data(), 1, t.size(), stdout);
    std::fputc('\n', stdout);
    co_return 0;
}

}  // namespace latchkey::cli
