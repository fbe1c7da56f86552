// Persisting a login (see login.hpp async_save_login): credentials and config.json, both
// written under locks and config.json re-read under its lock, so neither a concurrent
// refresh of the context nor another login's contexts are lost.
#include <latchkey/transport/login.hpp>

#include <latchkey/transport/async_lock.hpp>

#include <boost/asio/this_coro.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {

// The context remembers its client so later commands need no flags.
void remember(config_file& cfg, const std::string& context, const client_config& client,
              const save_options& opts) {
    auto& ctx = cfg.contexts[context];
    ctx.issuer = client.issuer;
    if (!client.client_id.empty()) ctx.client_id = client.client_id;
    if (opts.remember_scopes) ctx.scopes = client.scopes;
    for (const auto& [k, v] : opts.extra) {
        if (v.empty()) ctx.extra.erase(k);  // an empty value forgets the setting
        else ctx.extra[k] = v;
    }
    if (cfg.contexts.size() == 1) cfg.current_context = context;
}

}  // namespace

asio::awaitable<result<saved_login>> async_save_login(credential_store& store, clock_port& clock,
                                                      std::string context,
                                                      const client_config& client,
                                                      const login_result& login,
                                                      save_options opts, diagnostics& diag) {
    // Terminal cancellation only: a login that holds tokens finishes saving.
    co_await asio::this_coro::reset_cancellation_state();
    saved_login out;
    auto& creds = out.credentials;
    creds.context = context;
    creds.issuer = client.issuer;
    creds.client_id = client.client_id;
    creds.method = login.method;
    creds.obtained_at = login.obtained_at;
    creds.tokens = login.tokens;
    creds.who = login.who;
    if (auto ec = store.ensure_dirs(diag)) co_return ec;
    // The context's lock (the one token_source refreshes under), then config.json's, in
    // that order everywhere.
    auto lock = co_await async_acquire_lock(clock, store.lock_path(context), default_lock_wait, diag);
    if (!lock) co_return lock.error();
    // README: a file latch cannot parse is never overwritten silently (issue 18 #13).
    auto aside = store.set_aside_corrupt(context, clock.now(), diag);
    if (!aside) co_return aside.error();
    if (*aside) out.set_aside_notice = (*aside)->notice;
    if (auto ec = store.save(creds, diag)) co_return ec;
    auto config_lock = co_await async_acquire_lock(clock, store.home() / "config.lock",
                                                   default_lock_wait, diag);
    if (!config_lock) co_return config_lock.error();
    auto cfg = store.load_config(diag);  // re-read under the lock: keep others' changes
    if (!cfg) co_return cfg.error();
    remember(*cfg, context, client, opts);
    if (auto ec = store.save_config(*cfg, diag)) co_return ec;
    out.context = cfg->contexts[context];
    co_return out;
}

}  // namespace latchkey::transport
