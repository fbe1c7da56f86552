// Authorization code + PKCE as a pure state machine (see auth_code_flow.hpp).
#include <latchkey/flows/auth_code_flow.hpp>

#include <latchkey/core/secret.hpp>
#include <latchkey/flows/authorization_response.hpp>

#include <latchkey/core/jwt.hpp>
#include <latchkey/core/pkce.hpp>
#include <latchkey/core/random.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <array>

namespace latchkey::flows {
namespace urls = boost::urls;
namespace json = boost::json;

namespace {

bool is_http_url(const urls::url_view& u) {
    return (u.scheme() == "https" || u.scheme() == "http") && u.has_authority() &&
           !u.host().empty();
}

std::string minutes_text(std::chrono::seconds s) {
    auto m = s.count() / 60, r = s.count() % 60;
    return std::to_string(m) + ":" + (r < 10 ? "0" : "") + std::to_string(r);
}

// The ID token's `nonce`, read without verifying anything (transport::async_verify_id_token checks the rest).
enum class nonce_read { found, absent, undecodable };
nonce_read read_nonce(std::string_view id_token, std::string& nonce) {
    auto payload = jwt_payload_unverified(id_token);
    if (!payload) return nonce_read::undecodable;
    error_code ec;
    auto v = json::parse(*payload, ec);
    if (ec || !v.is_object()) return nonce_read::undecodable;
    auto it = v.as_object().find("nonce");
    if (it == v.as_object().end() || !it->value().is_string()) return nonce_read::absent;
    nonce = std::string(it->value().as_string());
    return nonce_read::found;
}

constexpr std::array<std::string_view, 9> reserved_auth_params{
    "response_type", "client_id",      "redirect_uri",          "scope", "state",
    "nonce",         "code_challenge", "code_challenge_method", "prompt"};

}  // namespace

std::string ephemeral_port_hint() {
    return "its port changes every run: if the identity provider compares redirect URIs "
           "exactly, port included, allow-list http://127.0.0.1:N/callback for a free port N "
           "and log in with --port N (remembered for the context once a login on it works)";
}

auth_code_secrets make_auth_code_secrets() {
    auth_code_secrets s;
    s.state = random_urlsafe(32);
    s.nonce = random_urlsafe(32);
    s.code_verifier = secret{make_pkce_verifier()};
    return s;
}

std::string build_authorize_url(const auth_code_params& p, const auth_code_secrets& s) {
    auto parsed = urls::parse_absolute_uri(p.authorization_endpoint);
    if (!parsed || !is_http_url(*parsed)) return {};
    urls::url u(*parsed);
    u.remove_fragment();
    auto q = u.params();
    q.append({"response_type", "code"});
    q.append({"client_id", p.client_id});
    q.append({"redirect_uri", p.redirect_uri});
    if (!p.scope.empty()) q.append({"scope", p.scope});
    q.append({"state", s.state});
    if (!s.nonce.empty()) q.append({"nonce", s.nonce});
    q.append({"code_challenge", pkce_challenge(s.code_verifier.reveal())});  // RFC 7636 §4.2
    q.append({"code_challenge_method", "S256"});
    if (p.prompt && !p.prompt->empty()) q.append({"prompt", *p.prompt});
    for (const auto& [k, v] : p.extra_auth_params) {
        bool reserved = false;
        for (auto r : reserved_auth_params) reserved = reserved || k == r;
        if (!reserved && !k.empty()) q.append({k, v});
    }
    return std::string(u.buffer());
}

auth_code_flow::auth_code_flow(auth_code_params p, auth_code_secrets s)
    : p_(std::move(p)), s_(std::move(s)) {}

action auth_code_flow::next(const event& ev) {
    if (state_ == state::finished)
        return make_failed(client_errc::flow_finished, "the browser login already finished");
    const time_point now = event_time(ev);
    switch (state_) {
    case state::initial:
        if (std::holds_alternative<started>(ev)) return finish(on_started(now));
        break;
    case state::showing:
    case state::nudging:
        if (std::holds_alternative<user_shown>(ev)) return finish(on_shown(now));
        if (auto* cb = std::get_if<callback_received>(&ev)) return finish(on_callback(*cb));
        break;
    case state::awaiting:
        if (std::holds_alternative<timer_fired>(ev)) return finish(on_timer(now));
        if (auto* cb = std::get_if<callback_received>(&ev)) return finish(on_callback(*cb));
        break;
    case state::exchanging:
        if (auto* r = std::get_if<http_reply>(&ev)) return finish(on_token_reply(*r));
        break;
    case state::finished:
        break;
    }
    static constexpr const char* event_names[] = {"started", "http_reply", "timer_fired",
                                                  "user_shown", "callback_received"};
    return finish(make_failed(client_errc::bad_input,
                              std::string("browser login: unexpected event `") +
                                  event_names[ev.index()] + "` in this state"));
}

action auth_code_flow::finish(action a) {
    if (std::holds_alternative<done>(a) || std::holds_alternative<failed>(a))
        state_ = state::finished;
    return a;
}

action auth_code_flow::on_started(time_point now) {
    const auto& v = s_.code_verifier.reveal();
    // RFC 7636 §4.1: 43..128 unreserved characters.
    if (v.size() < 43 || v.size() > 128 ||
        v.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") !=
            std::string::npos)
        return make_failed(client_errc::bad_input, "the PKCE code verifier is not 43-128 "
                                                   "unreserved characters (RFC 7636 §4.1)");
    if (s_.state.empty())
        return make_failed(client_errc::bad_input, "browser login without a `state` value");
    if (p_.redirect_uri.empty() || p_.client_id.empty())
        return make_failed(client_errc::bad_input, "browser login needs a redirect URI and a "
                                                   "client id");
    authorize_url_ = build_authorize_url(p_, s_);
    if (authorize_url_.empty())
        return make_failed(client_errc::bad_url, "the authorization endpoint is not an http(s) "
                                                 "URL: " + p_.authorization_endpoint);
    deadline_ = now + p_.timeout;
    show_user s;
    s.what = show_user::kind::browser_url;
    s.authorize_url = authorize_url_;
    s.redirect_uri = p_.redirect_uri;
    s.expires_at = deadline_;
    s.message = "The identity provider must allow the redirect URI " + p_.redirect_uri +
                " for client '" + p_.client_id + "'.";
    state_ = state::showing;
    return s;
}

action auth_code_flow::on_shown(time_point now) {
    if (state_ == state::showing) {
        nudge_at_ = p_.nudge_after > std::chrono::seconds{0} ? now + p_.nudge_after : deadline_;
    }
    state_ = state::awaiting;
    if (now >= deadline_) return on_timer(now);
    return await_callback{nudged_ ? deadline_ : std::min(nudge_at_, deadline_)};
}

action auth_code_flow::on_timer(time_point now) {
    if (now >= deadline_)
        return make_failed(client_errc::timeout,
                           "no sign-in response reached " + p_.redirect_uri + " within " +
                               minutes_text(p_.timeout) +
                               "; if the browser showed an error about the redirect URI, " +
                               (p_.ephemeral_port
                                    ? ephemeral_port_hint()
                                    : "allow-list it at the identity provider and try again"));
    if (!nudged_ && now >= nudge_at_) {
        // Seed 001: a long timeout should not be wasted on a redirect URI the IdP rejects.
        nudged_ = true;
        show_user s;
        s.what = show_user::kind::notice;
        s.authorize_url = authorize_url_;
        s.redirect_uri = p_.redirect_uri;
        s.expires_at = deadline_;
        s.message = "No callback yet; did you allow-list the redirect URI " + p_.redirect_uri +
                    " at the identity provider? " +
                    (p_.ephemeral_port ? "Note that " + ephemeral_port_hint() + ". " : "") +
                    "Open this URL: " + authorize_url_;
        state_ = state::nudging;
        return s;
    }
    return await_callback{nudged_ ? deadline_ : std::min(nudge_at_, deadline_)};
}

bool auth_code_flow::accepts(const authorization_response& r) const {
    // RFC 6749 §10.12: ours only with our state, compared in constant time.
    return r.state && !s_.state.empty() && constant_time_equal(*r.state, s_.state);
}

action auth_code_flow::on_callback(const callback_received& cb) {
    const auto parsed = parse_authorization_response(cb.url);
    const auto* r = &parsed;
    if (!r->parsed)
        return make_failed(client_errc::bad_input,
                           "the sign-in response is not a URL with a query: " +
                               escape_untrusted(cb.url, 120));
    if (!r->repeated.empty())
        return make_failed(client_errc::bad_input, "the sign-in response repeats `" + r->repeated +
                                                       "` (RFC 6749 §3.1); not continuing");
    // RFC 6749 §10.12: the response must be bound to this login, errors included.
    if (!r->state)
        return make_failed(client_errc::state_mismatch,
                           "the sign-in response carries no `state`; it does not belong to "
                           "this login, so it was ignored");
    if (!accepts(*r))
        return make_failed(client_errc::state_mismatch,
                           "the sign-in response's `state` does not match this login (a stale "
                           "or forged link?); not continuing");
    // RFC 9207 §2.4: mix-up defence, also for error responses.
    if (r->iss && *r->iss != p_.issuer)
        return make_failed(client_errc::issuer_mismatch,
                           "the sign-in response names issuer " + escape_untrusted(*r->iss, 120) +
                               ", not " + p_.issuer + " (RFC 9207)");
    if (!r->iss && p_.iss_parameter_supported)
        return make_failed(client_errc::issuer_mismatch,
                           "the sign-in response has no `iss` although " + p_.issuer +
                               " advertises authorization_response_iss_parameter_supported "
                               "(RFC 9207)");
    if (r->error) {
        diagnostics d;
        auto code = oauth_errc_from_string(*r->error);
        if (code == oauth_errc::unknown_oauth_error) d.server_error = *r->error;
        if (r->error_description) d.server_message = *r->error_description;
        return make_failed(code, "the identity provider did not authorize the login (error=" +
                                     escape_untrusted(*r->error, 60) + ")", std::move(d));
    }
    if (!r->code || r->code->empty())
        return make_failed(client_errc::missing_field,
                           "the sign-in response has no authorization `code`");
    // RFC 6749 §4.1.3 + RFC 7636 §4.5. A public client: client_id in the body.
    auto req = make_form_post(p_.token_endpoint, {{"grant_type", "authorization_code"},
                                                  {"code", *r->code},
                                                  {"redirect_uri", p_.redirect_uri},
                                                  {"client_id", p_.client_id},
                                                  {"code_verifier", s_.code_verifier.reveal()}});
    req.idempotent = false;  // a replayed code makes the IdP revoke the grant
    state_ = state::exchanging;
    return send_request{std::move(req)};
}

action auth_code_flow::on_token_reply(const http_reply& r) {
    if (r.ec)
        return make_failed(r.ec, "token request to " + p_.token_endpoint +
                                     " failed (not retried: an authorization code is single-use): " +
                                     r.ec.message());
    diagnostics d;
    auto tokens = parse_token_response(r.response, r.now, d);
    if (!tokens) return failed{tokens.error(), std::move(d)};
    if (tokens->id_token) {
        const std::string& raw = tokens->id_token->reveal();
        // OIDC Core §3.1.3.7 (11): the nonce we sent must come back unchanged.
        std::string nonce;
        switch (read_nonce(raw, nonce)) {
        case nonce_read::undecodable:
            return make_failed(client_errc::id_token_invalid,
                               "the ID token from " + p_.token_endpoint + " is not a JWT");
        case nonce_read::absent:
            if (!s_.nonce.empty())
                return make_failed(client_errc::nonce_mismatch,
                                   "the ID token carries no `nonce`, but one was sent");
            break;
        case nonce_read::found:
            if (nonce != s_.nonce)
                return make_failed(client_errc::nonce_mismatch,
                                   "the ID token's `nonce` does not match this login (a "
                                   "replayed token?)");
            break;
        }
    }
    return done{std::move(*tokens)};
}

}  // namespace latchkey::flows
