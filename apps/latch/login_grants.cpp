// Non-interactive logins: the resource owner password grant (RFC 6749 §4.3, for CI that
// has no browser; seed 002) and client credentials (§4.4, for services). Secrets come from
// the environment or a file, never from argv (other users can read it in `ps`).
#include "app.hpp"
#include "renewal_sources.hpp"

#include <latchkey/flows/grant_flow.hpp>
#include <latchkey/transport/drive.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>

#include <unistd.h>

namespace latchkey::cli {
namespace asio = boost::asio;

namespace {

std::optional<std::string> env_value(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

// --client-secret-file > LATCH_CLIENT_SECRET. Empty optional when neither is given.
result<std::optional<secret>> read_client_secret(const login_options& o, diagnostics& diag) {
    if (!o.client_secret_file.empty()) {
        auto s = read_client_secret_file(o.client_secret_file, diag);  // renewal_sources.cpp
        if (!s) return s.error();
        return std::optional<secret>(std::move(*s));
    }
    if (auto v = env_value("LATCH_CLIENT_SECRET")) return std::optional<secret>(secret{std::move(*v)});
    return std::optional<secret>{};
}

// A confidential client authenticates with HTTP Basic (RFC 6749 §2.3.1); without a
// secret the client is public and only names itself.
flows::client_auth make_auth(const client_config& c, std::optional<secret> s) {
    flows::client_auth auth;
    auth.client_id = c.client_id;
    if (s) {
        auth.how = flows::client_auth::method::secret_basic;
        auth.client_secret = std::move(*s);
    }
    return auth;
}

// Prompts on the terminal and awaits one line from stdin (a TTY) without blocking the
// io_context; with echo off for the password. Empty optional on EOF or cancellation.
asio::awaitable<std::optional<std::string>> async_prompt(app& a, const char* prompt, bool echo) {
    std::optional<echo_off> quiet;
    if (!echo) quiet.emplace();  // before the prompt: typing may follow at once
    std::fputs(prompt, stderr);
    std::fflush(stderr);
    asio::posix::stream_descriptor in(a.io, ::dup(STDIN_FILENO));
    std::string buf;
    auto [ec, n] = co_await asio::async_read_until(in, asio::dynamic_buffer(buf), '\n',
                                                   asio::as_tuple(asio::use_awaitable));
    quiet.reset();
    if (ec) co_return std::nullopt;
    std::string line = buf.substr(0, n - 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    co_return line;
}

// LATCH_USERNAME / LATCH_PASSWORD, else (on a terminal) prompted, never from argv.
asio::awaitable<result<std::pair<std::string, secret>>> async_user_password(app& a,
                                                                          diagnostics& diag) {
    auto user = env_value("LATCH_USERNAME");
    auto pass = env_value("LATCH_PASSWORD");
    if ((!user || !pass) && ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO)) {
        if (!user) user = co_await async_prompt(a, "Username: ", true);
        if (user && !pass) pass = co_await async_prompt(a, "Password: ", false);
        if (!user || !pass) co_return client_errc::cancelled;
    }
    if (!user || !pass || user->empty()) {
        diag.client_message = "the password grant reads the user name and password from the "
                              "environment: set LATCH_USERNAME and LATCH_PASSWORD (never pass a "
                              "password on the command line)";
        co_return client_errc::config_missing;
    }
    co_return std::pair<std::string, secret>{std::move(*user), secret{std::move(*pass)}};
}

result<flows::grant_params> password_params(const client_config& c, const login_options& o,
                                            std::pair<std::string, secret> cred,
                                            diagnostics& diag) {
    const std::optional<std::string> user = std::move(cred.first);
    const std::optional<std::string> pass = cred.second.reveal();
    auto s = read_client_secret(o, diag);
    if (!s) return s.error();
    flows::grant_params p;
    p.grant_type = "password";
    p.fields = {{"username", *user}, {"password", *pass}};
    if (!c.scopes.empty()) p.fields.emplace_back("scope", c.scope_string());
    p.auth = make_auth(c, std::move(*s));
    return p;
}

result<flows::grant_params> client_credentials_params(const client_config& c,
                                                      const login_options& o,
                                                      diagnostics& diag) {
    auto s = read_client_secret(o, diag);
    if (!s) return s.error();
    if (!*s) {
        diag.client_message = "the client credentials grant needs the client secret: set "
                              "LATCH_CLIENT_SECRET or pass --client-secret-file FILE";
        return client_errc::config_missing;
    }
    flows::grant_params p;
    p.grant_type = "client_credentials";
    // Scopes only when asked for on the command line: the user-login defaults (openid,
    // offline_access) mean nothing to a service and IdPs reject them.
    if (!o.scopes.empty()) p.fields.emplace_back("scope", c.scope_string());
    p.auth = make_auth(c, std::move(*s));
    return p;
}

}  // namespace

asio::awaitable<result<login_outcome>> async_grant_login(app& a, const client_config& c,
                                                         const provider_metadata& m,
                                                         const login_options& o,
                                                         diagnostics& diag) {
    if (m.token_endpoint.empty()) {
        diag.client_message = "the identity provider at " + c.issuer +
                              " does not advertise a token endpoint";
        co_return client_errc::endpoint_missing;
    }
    if (o.password)
        print_error("warning: the password grant sends your password to the identity provider "
                    "and bypasses MFA; prefer `latch login`");
    result<flows::grant_params> params = client_errc::bad_input;
    if (o.password) {
        auto cred = co_await async_user_password(a, diag);
        if (!cred) co_return cred.error();
        params = password_params(c, o, std::move(*cred), diag);
    } else {
        params = client_credentials_params(c, o, diag);
    }
    if (!params) co_return params.error();
    params->token_endpoint = m.token_endpoint;
    flows::grant_flow flow{std::move(*params)};
    terminal_user user{detect_terminal(true)};
    transport::ports ports{a.http, a.clock, user};
    auto tokens = co_await transport::async_drive(flow, ports, diag);
    if (!tokens) co_return tokens.error();
    co_return login_outcome{std::move(*tokens), o.password ? login_method::password : login_method::client_credentials};
}

}  // namespace latchkey::cli
