// `latch login --with-token`: import a token obtained elsewhere (a CI secret, another tool;
// seed 000). The token is read from stdin, never from argv (other users see argv in `ps`):
// piped, or typed/pasted on a terminal with echo off. Its expiry is --expires-in, else the
// JWT's `exp`, else the lookup answer's `expiresAt`, else 30 days ("assumed" in status).
// Whose token it is comes from the lookup URL (--lookup-url > LATCH_LOOKUP_URL > the
// context's remembered one) or the issuer's userinfo endpoint; when that cannot be asked,
// the token is stored anyway, named after a JWT's own (unverified) claims or else with the
// placeholder identity `ci-user`, and a warning, so an import works offline. There is no refresh token: `latch refresh`
// says so, and an expired import needs a new import.
#include "app.hpp"

#include <latchkey/core/token_import.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <variant>

#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

namespace latchkey::cli {
namespace asio = boost::asio;

namespace {

constexpr std::size_t max_token_size = 64 * 1024;

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

// A terminal: one line, prompted, echo off. A pipe or socket: everything up to EOF, awaited
// (the writer may be slow). A regular file or /dev/null: read at once (local and bounded).
asio::awaitable<result<std::string>> async_read_stdin(app& a, diagnostics& diag) {
    std::string buf;
    struct stat st{};
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    if (!tty && ::fstat(STDIN_FILENO, &st) == 0 && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
        char chunk[4096];
        ssize_t n;
        while ((n = ::read(STDIN_FILENO, chunk, sizeof chunk)) > 0 && buf.size() <= max_token_size)
            buf.append(chunk, static_cast<std::size_t>(n));
    } else {
        std::optional<echo_off> quiet;  // the token is a secret
        if (tty) {
            quiet.emplace();
            std::fputs("Paste the token (input hidden), then press Enter: ", stderr);
            std::fflush(stderr);
        }
        // Asio sets O_NONBLOCK on the open file description, which the shell shares with
        // us: put the original flags back however this ends.
        struct restore_flags {
            int flags = ::fcntl(STDIN_FILENO, F_GETFL);
            ~restore_flags() { if (flags != -1) ::fcntl(STDIN_FILENO, F_SETFL, flags); }
        } restore;
        asio::posix::stream_descriptor in(a.io, ::dup(STDIN_FILENO));
        auto dyn = asio::dynamic_buffer(buf, max_token_size + 1);
        error_code ec;
        if (tty)
            std::tie(ec, std::ignore) =
                co_await asio::async_read_until(in, dyn, '\n', asio::as_tuple(asio::use_awaitable));
        else
            std::tie(ec, std::ignore) = co_await asio::async_read(in, dyn, asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted) co_return client_errc::cancelled;
        if (ec && ec != asio::error::eof && ec != asio::error::not_found) {
            diag.client_message = "cannot read the token from stdin: " + ec.message();
            co_return client_errc::bad_input;
        }
    }
    if (buf.size() > max_token_size) {
        diag.client_message = "the token on stdin is longer than 64 KiB";
        co_return client_errc::bad_input;
    }
    co_return buf;
}

const char* expiry_origin(expiry_source s) {
    switch (s) {
    case expiry_source::expires_in: return "--expires-in";
    case expiry_source::jwt_exp: return "the token's exp claim";
    case expiry_source::lookup: return "the identity lookup's expiresAt";
    default: return "default lifetime of 30 days";
    }
}

}  // namespace

namespace {

struct import_settings {
    std::string issuer;
    std::string client_id;
    std::string lookup_url;
};

// flag > environment > the context (README "Importing a token").
import_settings resolve_import(const login_options& o, const context_config& stored) {
    import_settings s;
    s.issuer = !o.issuer.empty() ? o.issuer : env_or("LATCH_ISSUER", stored.issuer);
    s.client_id = !o.client_id.empty() ? o.client_id : env_or("LATCH_CLIENT_ID", stored.client_id);
    auto remembered = stored.extra.find(lookup_url_key);
    s.lookup_url = !o.lookup_url.empty()
                       ? o.lookup_url
                       : env_or("LATCH_LOOKUP_URL",
                                remembered == stored.extra.end() ? std::string{} : remembered->second);
    return s;
}

// The token from stdin, trimmed; an exit code when there is none.
asio::awaitable<std::variant<secret, int>> async_token_from_stdin(app& a) {
    diagnostics diag;
    auto text = co_await async_read_stdin(a, diag);
    if (!text) {
        if (text.error() == client_errc::cancelled) { print_error("interrupted; nothing was stored"); co_return 130; }
        print_error(describe(text.error(), diag));
        co_return 2;
    }
    secret token{trim_token(*text)};
    if (token.empty()) {
        print_error("no token on stdin: pipe it in, e.g. `printenv CI_TOKEN | latch login --with-token`");
        co_return 2;
    }
    if (token.reveal().find_first_of(" \t\r\n") != std::string::npos) {
        print_error("stdin holds more than one word; pipe in just the token");
        co_return 2;
    }
    if (auto why = token_problem(token.reveal(), token_kind::opaque); !why.empty()) {  // RFC 6750
        print_error("the token on stdin cannot be used: " + why + "; nothing was stored");
        co_return 2;
    }
    co_return token;
}

// Whose token it is: the lookup's answer, else the claims of a JWT (not verified; only a
// name to show), else the placeholder `ci-user`; a warning when the lookup failed.
identity imported_identity(transport::lookup_result& looked_up, const secret& token) {
    if (looked_up.who) return std::move(*looked_up.who);
    const std::string why = "warning: could not look up whose token this is (" + looked_up.why_not + "); ";
    if (auto claimed = identity_from_jwt_unverified(token.reveal())) {
        print_error(why + "named it after the token's own claims, which were not verified");
        return std::move(*claimed);
    }
    print_error(why + "stored it with the placeholder identity '" + placeholder_subject + "'");
    identity who;
    who.subject = placeholder_subject;
    return who;
}

}  // namespace

asio::awaitable<int> run_login_import(app& a, config_file cfg, std::string ctx, login_options o) {
    auto known = cfg.contexts.find(ctx);
    const auto set = resolve_import(o, known == cfg.contexts.end() ? context_config{} : known->second);
    if (set.issuer.empty()) {
        print_error("no issuer: pass --issuer URL or set LATCH_ISSUER (the token's issuer)");
        co_return 2;
    }
    auto read = co_await async_token_from_stdin(a);
    if (auto* code = std::get_if<int>(&read)) co_return *code;
    const secret token = std::get<secret>(std::move(read));

    const auto now = a.clock.now();
    std::optional<seconds> lifetime;
    if (o.expires_in_s) lifetime = seconds{*o.expires_in_s};
    auto expiry = imported_token_expiry(token.reveal(), lifetime, now);
    if (expiry.at <= now) {
        print_error("the token expired at " + format_time(expiry.at) + " (its exp claim); nothing was stored");
        co_return 1;
    }

    auto looked_up = co_await transport::async_lookup_identity(a.client, set.issuer, set.lookup_url, token);
    transport::login_result login;
    login.method = login_method::token;
    login.obtained_at = now;
    login.tokens.access_token = token;
    if (expiry.from == expiry_source::default_lifetime && looked_up.expires_at &&
        *looked_up.expires_at > now)
        expiry = {*looked_up.expires_at, expiry_source::lookup};
    login.tokens.expires_at = expiry.at;
    // 30 days is a guess, not the issuer's word: `latch status` says "assumed".
    login.tokens.expiry_assumed = expiry.from == expiry_source::default_lifetime;
    login.who = imported_identity(looked_up, token);
    client_config client;
    client.issuer = set.issuer;
    client.client_id = set.client_id;
    transport::save_options opts;
    opts.remember_scopes = false;
    if (!o.lookup_url.empty()) opts.extra[lookup_url_key] = o.lookup_url;
    diagnostics diag;
    auto saved = co_await transport::async_save_login(a.store, a.clock, ctx, client, login,
                                                      std::move(opts), diag);
    if (!saved) { print_error(describe(saved.error(), diag)); co_return 1; }
    if (!saved->set_aside_notice.empty()) print_error("warning: " + saved->set_aside_notice);
    const auto& creds = saved->credentials;

    std::fprintf(stderr, "Logged in to %s as %s (context '%s', imported token %s); it expires %s (%s).\n",
                 set.issuer.c_str(), escape_untrusted(creds.who.display(), 120).c_str(), ctx.c_str(),
                 token.redacted().c_str(), format_time(expiry.at).c_str(), expiry_origin(expiry.from));
    co_return co_await async_gateway_after_login(a, std::move(saved->context),
                                                  std::move(saved->credentials));
}

void register_import_options(CLI::App& login, login_options& o) {
    auto* with = login.add_flag("--with-token", o.with_token,
                                "Import a token read from stdin (never from the command line); no refresh");
    for (const char* other : {"--password", "--client-credentials", "--device", "--browser"})
        if (auto* opt = login.get_option_no_throw(other)) with->excludes(opt);
    login.add_option("--expires-in", o.expires_in_s,
                     "Imported token lifetime in seconds (default: the JWT's exp, else 30 days)")
        ->check(CLI::Range(1LL, 10LL * 366 * 86400))
        ->needs(with);
    login.add_option("--lookup-url", o.lookup_url,
                     "URL that says whose an imported token is (GET, Bearer); env LATCH_LOOKUP_URL; "
                     "default: the issuer's userinfo endpoint; remembered in the context")
        ->needs(with);
}

}  // namespace latchkey::cli
