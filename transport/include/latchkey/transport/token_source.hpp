// token_source: the one API everything gets access tokens from (the CLI's `latch token`,
// `latch status`, `latch refresh`, and embedding programs such as async servers).
//
//     latchkey::transport::http_client http(io.get_executor());
//     latchkey::transport::real_clock clock(io.get_executor());
//     latchkey::transport::token_source source(io.get_executor(), http, clock,
//                                              latchkey::credential_store(home), "default");
//     ...
//     latchkey::diagnostics diag;
//     auto tok = co_await source.token(diag);        // inside any coroutine on `io`
//     if (!tok) { /* tok.error(), diag.to_string() */ }
//     req.set("Authorization", "Bearer " + tok->reveal());
//
// It reads the credentials `latch login` stored for a context and keeps them fresh, with the
// renewal the stored login_method calls for (renewal.hpp: a refresh; for client-credentials
// and machine contexts the grant made again with the secret or a new signed assertion the
// embedder supplies in options.auth). Everything below about "the refresh" holds for each.
//
// * Windows and skew. An access token counts as expired `clock_skew` before its expires_at
//   (our clock may be behind the IdP's). It is refreshed when it would count as expired
//   within `refresh_window`, i.e. when less than refresh_window + clock_skew remain, but
//   never earlier than half its lifetime (token_set::refresh_margin, when the lifetime is
//   known): a 240 s token under the CLI's 300 s window is refreshed in its last 120 s,
//   not at every use. Default window 60 s (embedders); the CLI uses 300 s.
// * Caching. The credentials are cached in memory; while the cached access token is
//   outside the window, token() returns it without touching the disk. Once inside the
//   window the file is re-read first (the CLI or another process may have refreshed it).
// * In-process single-flight. Any number of concurrent token() callers on the executor
//   share ONE refresh: the first starts it, the rest wait (no threads, no mutex; they wait
//   on a timer used as a condition variable) and all get its result or its error. The
//   refresh itself runs in its own coroutine, so a cancelled caller neither cancels the
//   refresh for the others nor abandons a POST whose rotated refresh token must be saved.
// * Cross-process single-flight. The refresh holds credential_store::lock_path(context)
//   (flock, see file_lock.hpp), waiting at most `lock_wait` without blocking. Under the
//   lock it re-reads the store: if another process refreshed meanwhile (the stored access
//   token is outside the window, or the stored refresh token changed and its access token
//   is still valid, or the stored access token changed and is still valid) that result is
//   used and no request is sent. Otherwise it sends the
//   refresh (flows::refresh_flow: never retried), saves the merged credentials atomically,
//   then releases the lock. The lock is held only around refresh-and-save.
// * The token endpoint comes from options.token_endpoint, else from the issuer's discovery
//   document, fetched once per client_services per issuer (before taking the lock).
//
// Errors (result's error, with a printable diag.client_message; the IdP's text, if any, in
// diag.server_message — escape it before printing):
//   client_errc::not_logged_in    nothing stored for the context
//   client_errc::session_expired  the store is marked expired, or the IdP answered a refresh
//       with invalid_grant or a bare 400/401 (the store is then marked expired — kept, not
//       deleted; a grant's invalid_grant does not end the session), or the token
//       expired with no refresh token / with auto_refresh off.
//       Message: "session expired — run `latch login`" (or says why more precisely).
//   client_errc::lock_timeout     another process held the lock longer than lock_wait
//   client_errc::store_io / store_corrupt   the credentials file cannot be read or written
//   client_errc::cancelled        this caller was cancelled while waiting
//   client_errc::config_missing / key_error   a client-credentials or machine context whose
//       secret or key options.auth cannot supply (nothing sent, store untouched)
//   transport / other OAuth errors of the refresh or discovery: passed through; the store
//       is left byte-for-byte untouched.
// needs_login(ec) (error.hpp) tells which errors mean "exit 77".
//
// Refresh failures with a still-usable token: with use_valid_token_on_failure (default
// true) token()/tokens() return the old access token if it is still valid (outside the
// skew), and put the refresh failure in diag.client_message as a warning. invalid_grant is
// never papered over this way. force_refresh() never falls back.
// A new ID token in a refresh response is verified (transport/id_token.hpp, no nonce, same
// `sub`, OIDC Core §12.2) when the issuer was discovered; a bad one is dropped — the
// previous ID token is kept, the refreshed access/refresh tokens are stored — with a
// warning in diag.client_message. These are the only cases where diag is non-empty on
// success.
//
// Threading and lifetimes: not thread-safe. Call it from one thread, or one strand, and pass
// that strand as `ex` (the shared refresh runs there). `http` and `clock` must outlive the
// token_source AND any refresh still running (keep them alive while the io_context runs).
// Two token_sources for the same context in one process do not share the in-process
// flight, but still exclude each other through the lock (the second adopts the first's
// result). Cancellation: terminal cancellation of a caller ends its wait with
// client_errc::cancelled; the shared refresh completes regardless.
#pragma once

#include <latchkey/core/store.hpp>
#include <latchkey/transport/ports.hpp>
#include <latchkey/transport/renewal.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace latchkey::transport {

struct token_source_options {
    std::chrono::seconds refresh_window{60};  // CLI: 300 s
    std::chrono::seconds clock_skew{default_clock_skew};
    bool auto_refresh = true;                   // false: --no-auto-refresh
    std::chrono::milliseconds lock_wait{30'000};
    bool use_valid_token_on_failure = true;     // see the header comment
    std::string token_endpoint;                 // empty: discover from the stored issuer
    std::string scope;                          // refresh `scope`; empty omits it (§6)
    // The client's secret or key, asked at each renewal (renewal.hpp); empty: a public
    // client, and client-credentials and machine contexts cannot be renewed.
    client_auth_sources auth;
};

namespace detail {
struct token_source_state;
}

class client_services;

class token_source {
public:
    // Shares `client`'s discovery and JWKS caches (and its ports) with the embedder's
    // logins and other token_sources; `client` must outlive this and any refresh running.
    token_source(boost::asio::any_io_executor ex, client_services& client,
                 credential_store store, std::string context,
                 token_source_options opts = {});
    // With caches of its own.
    token_source(boost::asio::any_io_executor ex, http_port& http, clock_port& clock,
                 credential_store store, std::string context,
                 token_source_options opts = {});
    ~token_source();
    token_source(const token_source&) = delete;
    token_source& operator=(const token_source&) = delete;

    // A valid access token, refreshed if needed (see above). `diag` must outlive the
    // co_await.
    boost::asio::awaitable<result<secret>> token(diagnostics& diag);

    // The same, with the whole token set (refresh token, ID token, scope, expiry).
    boost::asio::awaitable<result<token_set>> tokens(diagnostics& diag);

    // Refreshes now, whatever the expiry (`latch refresh`): under the lock, with the
    // refresh token currently stored; joins a refresh already in flight in this process.
    // Errors as above, plus session_expired when no refresh token is stored.
    boost::asio::awaitable<result<token_set>> force_refresh(diagnostics& diag);

    // The credentials as last read or written by this source (for status output); empty
    // before the first call or when nothing is stored.
    std::optional<stored_credentials> cached() const;

    const std::string& context() const noexcept;
    const token_source_options& options() const noexcept;
    // Refresh requests this source sent to the IdP.
    std::size_t refresh_count() const noexcept;
    // Refreshes skipped because another process had already refreshed under the lock.
    std::size_t adopted_count() const noexcept;

private:
    std::shared_ptr<detail::token_source_state> state_;
};

}  // namespace latchkey::transport
