// Non-interactive logins: the resource owner password grant (RFC 6749 §4.3, for CI that
// has no browser; seed 002) and client credentials (§4.4, for services). Secrets come from
// the environment or a file, never from argv (other users can read it in `ps`).
#include "app.hpp"
#include "renewal_sources.hpp"

#include <latchkey/transport/login.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>

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
        auto s = read_client_secret_file(o.client_secret_file, diag);  // renewal_sources.cpp
        if (!s) return s.error();
        return std::optional<secret>(std::move(*s));
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

}  // namespace latchkey::cli
