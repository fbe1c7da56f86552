// token_source: cached credentials, single-flight refresh in-process (a shared flight that
// waiters await on a timer) and across processes (a file lock). See token_source.hpp.
#include <latchkey/transport/token_source.hpp>

#include <latchkey/core/provider.hpp>
#include <latchkey/transport/async_lock.hpp>
#include <latchkey/transport/client_services.hpp>
#include <latchkey/transport/dpop.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/id_token.hpp>
#include <latchkey/transport/renewal.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {

const char* const session_expired_message = "session expired — run `latch login`";

// One refresh shared by every caller that arrives while it runs. `done` never expires on
// its own: cancel() wakes all waiters at once (a condition variable for coroutines).
struct flight {
    explicit flight(const asio::any_io_executor& ex) : done(ex) {
        done.expires_at(asio::steady_timer::time_point::max());
    }
    asio::steady_timer done;
    std::optional<result<token_set>> outcome;
    diagnostics diag;
};

// The refresh flow never shows anything; drive() still wants a user port.
class no_user final : public user_port {
public:
    void show(const flows::show_user&) override {}
};

}  // namespace

namespace detail {

struct token_source_state {
    token_source_state(asio::any_io_executor e, std::unique_ptr<client_services> own,
                       client_services& cl, credential_store s, std::string ctx,
                       token_source_options o)
        : ex(std::move(e)), owned(std::move(own)), client(cl), http(cl.http), clock(cl.clock),
          store(std::move(s)), context(std::move(ctx)), opts(std::move(o)) {}

    asio::any_io_executor ex;
    std::unique_ptr<client_services> owned;  // when constructed from bare ports
    client_services& client;
    http_port& http;
    clock_port& clock;
    credential_store store;
    std::string context;
    token_source_options opts;

    std::optional<stored_credentials> cache;
    std::shared_ptr<flight> inflight;
    std::size_t refreshes = 0;
    std::size_t adopted = 0;

    // Still accepted by resource servers, allowing for our clock being behind.
    bool usable(const token_set& t, time_point now) const {
        return t.valid_at(now, opts.clock_skew);
    }
    // Outside the refresh window: no need to refresh yet. The window is at most half the
    // token's lifetime (token_set::refresh_margin), so a short-lived token is not
    // refreshed at every use.
    bool fresh(const token_set& t, time_point now) const {
        return t.valid_at(now, t.refresh_margin(opts.refresh_window + opts.clock_skew));
    }

    // The cached token set when it needs no refresh yet (token()'s memory-only path).
    const token_set* fresh_cache(time_point now) const {
        return cache && !cache->expired && fresh(cache->tokens, now) ? &cache->tokens : nullptr;
    }

    // Re-reads the store into the cache. Errors: store errors, not_logged_in,
    // session_expired (a store marked expired; still cached for status output).
    error_code reload(diagnostics& diag) {
        auto loaded = store.load(context, diag);
        if (!loaded) return loaded.error();
        if (!*loaded) {
            cache.reset();
            diag.client_message = "not logged in (context '" + context + "'); run `latch login`";
            return client_errc::not_logged_in;
        }
        cache = std::move(**loaded);
        if (cache->expired) {
            diag.client_message = session_expired_message;
            return client_errc::session_expired;
        }
        return {};
    }
};

}  // namespace detail

namespace {
using state = detail::token_source_state;

// The issuer's metadata; with options.token_endpoint set, only that (no ID token check).
asio::awaitable<result<provider_metadata>> async_metadata(state& s, std::string issuer,
                                                          diagnostics& diag) {
    if (!s.opts.token_endpoint.empty()) {
        provider_metadata m;
        m.token_endpoint = s.opts.token_endpoint;
        co_return m;
    }
    if (issuer.empty()) {
        diag.client_message = "the stored credentials name no issuer; run `latch login`";
        co_return client_errc::config_missing;
    }
    client_config c;
    c.issuer = issuer;
    diagnostics d;
    auto meta = co_await s.client.discovery.async_get(s.http, c, d);
    if (!meta) {
        diag = std::move(d);
        diag.client_message = "cannot refresh: " + (diag.client_message.empty()
                                                        ? meta.error().message()
                                                        : diag.client_message);
    }
    co_return meta;
}

// OIDC Core §12.2: a new ID token from a refresh is verified like the first (no nonce),
// and must name the same subject. A bad one is dropped (the previous ID token is kept),
// never the refreshed access and refresh tokens: the old refresh token may already be
// rotated away. Returns a warning, or "" when it verified (or nothing was to verify).
asio::awaitable<std::string> async_check_refreshed_id_token(state& s, const provider_metadata& m,
                                                            const stored_credentials& current,
                                                            token_set& fresh) {
    if (m.jwks_uri.empty() || !fresh.id_token || fresh.id_token == current.tokens.id_token)
        co_return std::string();
    diagnostics vd;
    auto claims = co_await async_verify_id_token(s.http, m, current.client_id,
                                                 fresh.id_token->reveal(), std::nullopt,
                                                 s.clock.now(), vd, s.client.jwks);
    std::string problem;
    if (!claims) problem = vd.client_message;
    else if (const auto* sub = claims->if_contains("sub");
             !current.who.subject.empty() && (!sub || !sub->is_string() ||
                                              sub->get_string() != current.who.subject))
        problem = "ID token rejected: its subject differs from the logged-in one";
    if (problem.empty()) co_return std::string();
    fresh.id_token = current.tokens.id_token;
    co_return "refresh: " + problem + "; kept the previous ID token";
}

// invalid_grant: the session is over. Mark the stored credentials expired (kept, so
// `latch status` can say whose session ended) and report session_expired.
error_code end_session(state& s, diagnostics& diag) {
    diagnostics save_diag;
    if (s.cache) {
        s.cache->expired = true;
        if (auto ec = s.store.save(*s.cache, save_diag)) {
            diag.client_message = std::string(session_expired_message) +
                                  " (and marking the stored credentials expired failed: " +
                                  save_diag.client_message + ")";
            return client_errc::session_expired;
        }
    }
    diag.client_message = session_expired_message;
    return client_errc::session_expired;
}

const char* const no_refresh_token_message =
    "no refresh token is stored (the IdP did not issue one); session expired — run `latch login`";

// Another process renewed while we waited for the lock: its result is adopted.
bool renewed_by_other(const state& s, const token_set& seen, const token_set& now_stored,
                      time_point now) {
    if (s.fresh(now_stored, now)) return true;
    const bool changed = now_stored.refresh_token != seen.refresh_token ||
                         now_stored.access_token != seen.access_token;
    return changed && s.usable(now_stored, now);
}

// Saves what a renewal obtained, over the record re-read under the lock.
asio::awaitable<result<token_set>> async_save_renewed(state& s, const provider_metadata& meta,
                                                       const stored_credentials& current,
                                                       token_set renewed, pending_save& pending,
                                                       diagnostics& diag) {
    const std::string warning = co_await async_check_refreshed_id_token(s, meta, current,
                                                                        renewed);
    stored_credentials updated = current;
    updated.tokens = std::move(renewed);
    updated.expired = false;
    if (renewal_for(current.method) != renewal_kind::refresh) updated.obtained_at = s.clock.now();
    s.cache = updated;  // this process keeps working even if the save fails
    if (auto ec = pending.commit(updated, diag)) {
        diag.client_message = "the token was refreshed but could not be saved: " +
                              diag.client_message +
                              " (other processes may have to run `latch login`)";
        co_return ec;
    }
    diag.clear();
    diag.client_message = warning;  // a warning on success, like a fallback (see header)
    co_return updated.tokens;
}

// The cross-process part; runs with the lock held from acquire to return.
asio::awaitable<result<token_set>> async_refresh_locked(state& s, bool force,
                                                         diagnostics& diag) {
    const token_set seen = s.cache ? s.cache->tokens : token_set{};
    const std::string issuer = s.cache ? s.cache->issuer : std::string{};
    // Discovery first: a GET must not lengthen the time others wait for the lock.
    auto meta = co_await async_metadata(s, issuer, diag);
    if (!meta) co_return meta.error();

    auto lock = co_await async_acquire_lock(s.clock, s.store.lock_path(s.context),
                                            s.opts.lock_wait, diag);
    if (!lock) co_return lock.error();

    // A crash between a rotating POST and the rename left the live record in a temp file:
    // adopt it (issue 18 #3); remove other leftovers (#8). Under the lock: all are orphans.
    if (auto rec = s.store.recover(s.context, diag); !rec) co_return rec.error();
    if (auto ec = s.reload(diag)) co_return ec;
    const stored_credentials current = *s.cache;
    if (!force && renewed_by_other(s, seen, current.tokens, s.clock.now())) {
        ++s.adopted;  // no request
        diag.clear();
        co_return current.tokens;
    }
    if (!renewable(current)) {
        diag.client_message = no_refresh_token_message;
        co_return client_errc::session_expired;
    }
    // A machine's DPoP-bound token is renewed bound (RFC 9449), the nonce challenge answered once.
    const bool dpop = current.method == login_method::machine && current.tokens.token_type == "DPoP";
    std::string nonce;
    auto flow = make_renewal_flow(s.opts.auth, {meta->token_endpoint, current, s.opts.scope, dpop, nonce},
                                  s.clock.now(), diag);
    if (!flow) co_return flow.error();  // no secret or key: nothing sent, store untouched
    // Prove the result can be stored before the IdP rotates anything (full disk: nothing sent).
    auto pending = s.store.prepare_save(current, diag);
    if (!pending) {
        diag.client_message = "cannot refresh: the credentials could not be saved: " +
                              diag.client_message + " (nothing was sent)";
        co_return pending.error();
    }
    no_user user;
    ++s.refreshes;
    dpop_nonce_recorder http(s.http, nonce);
    auto renewed = co_await async_drive(**flow, ports{http, s.clock, user}, diag);
    if (!renewed && dpop && renewed.error() == oauth_errc::use_dpop_nonce && !nonce.empty()) {
        // §8: nothing was granted; once more with a new assertion and a proof with the nonce.
        diag.clear();
        flow = make_renewal_flow(s.opts.auth, {meta->token_endpoint, current, s.opts.scope, dpop, nonce},
                                 s.clock.now(), diag);
        if (!flow) co_return flow.error();
        renewed = co_await async_drive(**flow, ports{http, s.clock, user}, diag);
    }
    if (!renewed) {
        if (renewed.error() == oauth_errc::invalid_grant &&
            renewal_for(current.method) == renewal_kind::refresh)
            co_return end_session(s, diag);
        // Store untouched: the old refresh token may still work (or may not, if the IdP
        // rotated it before the connection died; nothing we can do about that here).
        co_return renewed.error();
    }
    co_return co_await async_save_renewed(s, *meta, current, std::move(*renewed), *pending, diag);
}  // the lock is released here, after the save

// The shared refresh: runs detached (not cancelled by any one caller), then wakes all.
asio::awaitable<void> async_run_flight(std::shared_ptr<state> s, std::shared_ptr<flight> f,
                                       bool force) {
    diagnostics diag;
    result<token_set> r = client_errc::cancelled;
    try {
        r = co_await async_refresh_locked(*s, force, diag);
    } catch (const std::exception& e) {
        diag.client_message = std::string("internal error during the token refresh: ") + e.what();
        r = boost::system::errc::make_error_code(boost::system::errc::state_not_recoverable);
    }
    f->diag = std::move(diag);
    f->outcome = std::move(r);
    if (s->inflight == f) s->inflight.reset();
    f->done.cancel();
}

// Joins the refresh in flight, or starts one.
asio::awaitable<result<token_set>> async_join_flight(std::shared_ptr<state> s, bool force,
                                                      diagnostics& diag) {
    std::shared_ptr<flight> f = s->inflight;
    if (!f) {
        f = std::make_shared<flight>(s->ex);
        s->inflight = f;
        asio::co_spawn(s->ex, async_run_flight(s, f, force), asio::detached);
    }
    if (!f->outcome) {
        auto [ec] = co_await f->done.async_wait(asio::as_tuple(asio::use_awaitable));
        (void)ec;  // operation_aborted both when woken and when this caller is cancelled
        if (!f->outcome) {
            diag.client_message = "cancelled while waiting for the token refresh";
            co_return client_errc::cancelled;
        }
    }
    diag = f->diag;
    co_return *f->outcome;
}

bool may_fall_back(const error_code& ec) {
    return !needs_login(ec) && ec != client_errc::cancelled;
}

}  // namespace

token_source::token_source(asio::any_io_executor ex, client_services& client,
                           credential_store store, std::string context,
                           token_source_options opts)
    : state_(std::make_shared<state>(std::move(ex), nullptr, client, std::move(store),
                                     std::move(context), std::move(opts))) {}

token_source::token_source(asio::any_io_executor ex, http_port& http, clock_port& clock,
                           credential_store store, std::string context,
                           token_source_options opts) {
    auto own = std::make_unique<client_services>(http, clock);
    auto& client = *own;
    state_ = std::make_shared<state>(std::move(ex), std::move(own), client, std::move(store),
                                     std::move(context), std::move(opts));
}

token_source::~token_source() = default;

asio::awaitable<result<token_set>> token_source::tokens(diagnostics& diag) {
    std::shared_ptr<state> s = state_;
    const time_point now = s->clock.now();
    if (const token_set* cached = s->fresh_cache(now)) co_return *cached;
    if (auto ec = s->reload(diag)) co_return ec;
    const token_set stored = s->cache->tokens;
    if (s->fresh(stored, now)) {
        diag.clear();
        co_return stored;
    }
    if (!s->opts.auto_refresh || !renewable(*s->cache)) {
        if (s->usable(stored, now)) {
            diag.clear();
            co_return stored;
        }
        diag.client_message = !s->opts.auto_refresh
            ? "the access token expired and auto-refresh is off; session expired — run "
              "`latch refresh` or `latch login`"
            : "the access token expired and no refresh token is stored; session expired — "
              "run `latch login`";
        co_return client_errc::session_expired;
    }
    auto r = co_await async_join_flight(s, false, diag);
    if (!r && s->opts.use_valid_token_on_failure && may_fall_back(r.error()) &&
        s->usable(stored, s->clock.now())) {
        // diag keeps the refresh failure as a warning; the old token still works.
        co_return stored;
    }
    co_return r;
}

asio::awaitable<result<secret>> token_source::token(diagnostics& diag) {
    // A cached token is a memory read: no copy of the whole set, no nested coroutine
    // (bench/README.md, embedding scenario).
    if (const token_set* cached = state_->fresh_cache(state_->clock.now()))
        co_return cached->access_token;
    auto t = co_await tokens(diag);
    if (!t) co_return t.error();
    co_return std::move(t->access_token);
}

asio::awaitable<result<token_set>> token_source::force_refresh(diagnostics& diag) {
    std::shared_ptr<state> s = state_;
    if (!s->inflight) {
        if (auto ec = s->reload(diag)) co_return ec;
        if (!renewable(*s->cache)) {
            diag.client_message = no_refresh_token_message;
            co_return client_errc::session_expired;
        }
    }
    co_return co_await async_join_flight(s, true, diag);
}

std::optional<stored_credentials> token_source::cached() const { return state_->cache; }
const std::string& token_source::context() const noexcept { return state_->context; }
const token_source_options& token_source::options() const noexcept { return state_->opts; }
std::size_t token_source::refresh_count() const noexcept { return state_->refreshes; }
std::size_t token_source::adopted_count() const noexcept { return state_->adopted; }

}  // namespace latchkey::transport
