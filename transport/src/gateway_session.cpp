// Gateway session exchange, freshness and lock-protected save; see gateway_session.hpp.
#include <latchkey/transport/gateway_session.hpp>

#include <latchkey/core/jwt.hpp>
#include <latchkey/transport/async_lock.hpp>
#include <latchkey/transport/token_source.hpp>

#include <cmath>

namespace latchkey::transport {
namespace asio = boost::asio;

namespace {

// The unverified `exp` of a JWT we stored ourselves; nullopt when it has none.
std::optional<time_point> jwt_expiry(const secret& t) {
    auto claims = decode_jwt_claims_unverified(t.reveal());
    if (!claims) return std::nullopt;
    auto it = claims->find("exp");
    if (it == claims->end() || !it->value().is_number()) return std::nullopt;
    const double exp = it->value().to_number<double>();
    if (!std::isfinite(exp) || exp <= 0) return std::nullopt;
    return from_unix_seconds(exp);
}

bool still_valid(const secret& jwt, time_point now) {
    auto exp = jwt_expiry(jwt);
    return !exp || *exp > now + gateway_margin;
}

}  // namespace

std::optional<secret> fresh_gateway_session(const stored_credentials& c, const gateway_config& g,
                                            time_point now) {
    if (!c.gateway || c.gateway->url != g.url) return std::nullopt;
    if (c.gateway->expires_at && *c.gateway->expires_at <= now + gateway_margin)
        return std::nullopt;
    return c.gateway->token;
}

std::optional<secret> gateway_subject(const stored_credentials& c) {
    if (c.tokens.id_token) return c.tokens.id_token;
    if (c.method == login_method::token) return c.tokens.access_token;
    return std::nullopt;
}

asio::awaitable<result<gateway_session>> async_exchange_gateway(http_port& http, clock_port& clock,
                                                                const gateway_config& g,
                                                                secret subject,
                                                                diagnostics& diag) {
    error_code ec;
    auto resp = co_await http.async_send(make_gateway_request(g, subject), ec, diag);
    if (ec) {
        const std::string why = diag.to_string();
        diag.client_message = "cannot reach the gateway at " + g.url + ": " +
                              (why.empty() ? ec.message() : why);
        diag.server_message.clear();
        co_return ec;
    }
    co_return parse_gateway_response(g, resp, clock.now(), diag);
}

asio::awaitable<error_code> async_save_gateway_session(clock_port& clock, credential_store store,
                                                       std::string ctx, gateway_session s,
                                                       diagnostics& diag) {
    auto lock = co_await async_acquire_lock(clock, store.lock_path(ctx), default_lock_wait, diag);
    if (!lock) co_return lock.error();
    auto current = store.load(ctx, diag);
    if (!current) co_return current.error();
    if (!*current) {
        diag.client_message = "the credentials of context '" + ctx + "' were removed meanwhile";
        co_return client_errc::not_logged_in;
    }
    (*current)->gateway = std::move(s);
    co_return store.save(**current, diag);
}

asio::awaitable<result<secret>> async_fresh_gateway_subject(token_source& source,
                                                            const stored_credentials& c,
                                                            time_point now, bool may_refresh,
                                                            const std::string& relogin,
                                                            diagnostics& diag) {
    const auto& ctx = c.context;
    if (c.method == login_method::token) {
        if (!c.expired && c.tokens.valid_at(now, gateway_margin)) co_return c.tokens.access_token;
        diag.client_message = "the imported token of context '" + ctx +
                              "' has expired; import a new one: latch login --with-token --context " + ctx;
        co_return client_errc::session_expired;
    }
    auto subject = gateway_subject(c);
    if (!c.expired && subject && still_valid(*subject, now)) co_return *subject;
    if (c.expired || !c.tokens.refresh_token || !may_refresh) {
        diag.client_message = std::string(subject ? "the ID token" : "no ID token") + " of context '" +
                              ctx + "'" + (subject ? " has expired" : " is stored") +
                              " and it cannot be refreshed; log in again: " + relogin;
        co_return client_errc::session_expired;
    }
    auto t = co_await source.force_refresh(diag);
    if (!t) co_return t.error();
    if (t->id_token && still_valid(*t->id_token, now)) co_return *t->id_token;
    diag.client_message = "refreshing context '" + ctx + "' gave no new ID token for the gateway; "
                          "log in again: " + relogin;
    co_return client_errc::session_expired;
}

}  // namespace latchkey::transport
