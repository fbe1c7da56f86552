// The login use case (see login.hpp): discovery, the way in, one ID-token check, identity.
#include <latchkey/transport/login.hpp>

#include "login_internal.hpp"

#include <latchkey/core/jwt.hpp>
#include <latchkey/core/token_import.hpp>
#include <latchkey/transport/id_token.hpp>
#include <latchkey/transport/race.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace latchkey::transport {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string json_str(const json::object& o, std::string_view k) {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string())
                                                    : std::string{};
}

void fill_identity(identity& who, const json::object& claims) {
    auto take = [&](std::string& field, std::string_view k) {
        if (field.empty()) field = json_str(claims, k);
    };
    take(who.subject, "sub");
    take(who.email, "email");
    take(who.name, "name");
    take(who.username, "preferred_username");
    // Seed 000's platformId and role, and a latch-idp organization: shown by `latch status`.
    for (const char* name : lookup_attribute_names)
        if (auto v = json_str(claims, name); !v.empty() && !who.attributes.count(name)) who.attributes[name] = v;
}

bool user_less(login_method m) {
    return m == login_method::client_credentials || m == login_method::machine;
}

// OIDC Core §3.1.3.7: every ID token is verified, in this one place, with the nonce this
// login sent; then who logged in. Not cancelled by a total cancellation (the login holds
// tokens now and finishes).
asio::awaitable<result<login_result>> async_finish(client_services& client,
                                                   const client_config& c,
                                                   const provider_metadata& meta,
                                                   detail::flow_outcome got, diagnostics& diag) {
    co_await asio::this_coro::reset_cancellation_state();
    login_result r;
    r.method = got.method;
    r.loopback_port = got.loopback_port;
    r.tokens = std::move(got.tokens);
    r.obtained_at = client.clock.now();
    if (r.tokens.id_token) {
        std::optional<std::string> nonce = std::move(got.nonce);
        auto v = co_await async_verify_id_token(client.http, meta, c.client_id,
                                                r.tokens.id_token->reveal(), std::move(nonce),
                                                client.clock.now(), diag, client.jwks);
        if (!v) {
            diag.client_message += "; nothing was stored";
            co_return v.error();
        }
        r.id_claims = std::move(*v);
    }
    if (user_less(r.method)) r.who.subject = c.client_id;  // no user
    else r.who = co_await async_identify(client, meta, r.tokens, r.id_claims ? &*r.id_claims : nullptr);
    co_return r;
}

asio::awaitable<result<detail::flow_outcome>> async_run_way(client_services& client,
                                                            const client_config& c,
                                                            const provider_metadata& m,
                                                            const login_options& o,
                                                            login_ports p, diagnostics& diag) {
    switch (o.way) {
    case login_way::callback_url: co_return detail::callback_url_login(o, diag);
    case login_way::password:
    case login_way::client_credentials: co_return co_await detail::async_grant_login(client, c, m, o, p, diag);
    default: co_return co_await detail::async_interactive_login(client, c, m, o, p, diag);
    }
}

// The whole login, its outcome left in `out`.
asio::awaitable<error_code> async_login_steps(client_services& client, const client_config& c,
                                              login_options o, login_ports p,
                                              result<login_result>& out, diagnostics& diag) {
    const time_point started = client.clock.now();
    if (o.way == login_way::machine) {
        // Discovery inside the machine login's time bound; its tokens carry no ID token
        // to check and no userinfo to ask (a machine is not a user).
        auto got = co_await detail::async_machine_login(client, c, o, diag);
        const provider_metadata no_meta;
        if (!got) out = got.error();
        else out = co_await async_finish(client, c, no_meta, std::move(*got), diag);
    } else if (auto meta = co_await client.async_discover(c, diag); !meta) {
        out = meta.error();
    } else {
        // The flow's own deadline (and its clearer message) comes before the hard one.
        o.timeout = detail::remaining_seconds(o.timeout, client.clock.now() - started);
        auto got = co_await async_run_way(client, c, *meta, o, p, diag);
        if (!got) out = got.error();
        else out = co_await async_finish(client, c, *meta, std::move(*got), diag);
    }
    co_return out ? error_code{} : out.error();
}

}  // namespace

asio::awaitable<void> login_user_port::async_countdown(clock_port&) { co_return; }

asio::awaitable<result<login_result>> async_login(client_services& client, const client_config& c,
                                                  login_options o, login_ports p,
                                                  diagnostics& diag) {
    // Total cancellation (a first Ctrl-C) stops the flows; errors, not exceptions.
    const bool throws = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    // Issue 18 #13: o.timeout bounds everything the login waits for, however slowly the
    // IdP drips its answers (each request alone may take http_options::request_timeout).
    // The flows' own deadlines come first, with their clearer messages; this one is the
    // hard bound, a little later, and cuts even the ID-token check of held tokens.
    result<login_result> out = client_errc::cancelled;
    const auto bound = o.timeout + detail::hard_deadline_grace;
    auto steps = async_login_steps(client, c, o, p, out, diag);
    auto deadline = detail::async_deadline(&client.clock, bound, detail::deadline_kind::hard);
    auto r = co_await async_race(std::move(steps), std::move(deadline), any_error);
    if (r.first == 1 && r.ec[1] == client_errc::timeout) {
        diag.clear();
        diag.client_message = "login timed out after " + std::to_string(o.timeout.count()) +
                              " s: the identity provider at " + c.issuer +
                              " did not finish answering (--timeout SECONDS changes the bound)";
        out = client_errc::timeout;
    }
    co_await asio::this_coro::reset_cancellation_state();
    co_await asio::this_coro::throw_if_cancelled(throws);
    co_return out;
}

asio::awaitable<identity> async_identify(client_services& client, const provider_metadata& m,
                                         const token_set& t, const json::object* id_claims) {
    identity who;
    if (id_claims) fill_identity(who, *id_claims);  // verified by the caller
    // Userinfo only fills gaps, and only with a real access token: after an ID-token-only
    // login (--callback-url) the "access token" is the ID token itself.
    const bool real_access_token = !t.id_token || t.id_token->reveal() != t.access_token.reveal();
    if (!m.userinfo_endpoint.empty() && real_access_token &&
        (who.email.empty() || who.name.empty())) {
        auto req = make_get(m.userinfo_endpoint);
        req.headers.emplace_back("Authorization", "Bearer " + t.access_token.reveal());
        error_code ec;
        diagnostics diag;
        auto resp = co_await client.http.async_send(std::move(req), ec, diag);
        if (!ec && resp.status == 200) {
            json::value v = json::parse(resp.body, ec);
            if (!ec && v.is_object()) fill_identity(who, v.as_object());
        }
    }
    co_return who;
}

asio::awaitable<lookup_result> async_lookup_identity(client_services& client, std::string issuer,
                                                     std::string url, secret token) {
    diagnostics diag;
    if (url.empty()) {
        client_config cc;
        cc.issuer = issuer;
        auto meta = co_await client.async_discover(cc, diag);
        if (!meta) co_return lookup_result{std::nullopt, latchkey::describe(meta.error(), diag)};
        if (meta->userinfo_endpoint.empty())
            co_return lookup_result{std::nullopt, "the identity provider advertises no userinfo endpoint"};
        url = meta->userinfo_endpoint;
    }
    auto req = make_get(url);
    req.headers.emplace_back("Authorization", "Bearer " + token.reveal());
    error_code ec;
    auto resp = co_await client.http.async_send(std::move(req), ec, diag);
    if (ec)
        co_return lookup_result{std::nullopt, "the identity lookup at " + url + " failed: " +
                                                  latchkey::describe(ec, diag)};
    if (resp.status != 200)
        co_return lookup_result{std::nullopt, "the identity lookup at " + url + " answered HTTP " +
                                                  std::to_string(resp.status)};
    auto who = identity_from_json(resp.body, diag);
    if (!who) co_return lookup_result{std::nullopt, diag.client_message + " (" + url + ")"};
    co_return lookup_result{std::move(*who), {}, lookup_expiry(resp.body)};
}

token_set id_token_only(const std::string& id_token) {
    token_set t;
    t.access_token = secret{id_token};
    t.id_token = secret{id_token};
    // Only for the expiry: the token is verified before it is stored.
    if (auto c = decode_jwt_claims_unverified(id_token)) {
        if (const auto* exp = c->if_contains("exp"); exp && exp->is_number()) {
            error_code ec;
            double d = exp->to_number<double>(ec);
            if (!ec && std::isfinite(d) && d > 0) t.expires_at = from_unix_seconds(d);
        }
    }
    return t;
}

namespace detail {

std::chrono::seconds remaining_seconds(std::chrono::seconds limit, time_point::duration spent) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(limit - spent);
    return std::max(left, std::chrono::seconds{1});
}

asio::awaitable<error_code> async_deadline(clock_port* clock, std::chrono::seconds limit,
                                           deadline_kind kind) {
    if (kind == deadline_kind::soft) {
        const time_point at = clock->now() + limit;
        const error_code ec = co_await clock->async_wait_until(at);
        co_return ec ? error_code(client_errc::cancelled) : error_code(client_errc::timeout);
    }
    // The hard bound is wall-clock time whatever the clock port says (a virtual clock
    // would let it fire at once), and a first Ctrl-C does not move it: the login it bounds
    // decides what a total cancellation stops (the flows) and lets finish (held tokens).
    co_await asio::this_coro::reset_cancellation_state();
    auto cs = co_await asio::this_coro::cancellation_state;
    const auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex, limit);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    // Fired and cancelled at the same moment: the cancellation wins (STYLE.md).
    const bool cancelled = ec || cs.cancelled() != asio::cancellation_type::none;
    co_return cancelled ? error_code(client_errc::cancelled) : error_code(client_errc::timeout);
}

}  // namespace detail

}  // namespace latchkey::transport
