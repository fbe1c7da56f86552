// Server-side sign-in through an IdP; see web_login.hpp.
#include <latchkey/transport/web_login.hpp>

#include <latchkey/flows/auth_code_flow.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/id_token.hpp>
#include <latchkey/transport/revoke.hpp>

#include "cookie_table.hpp"
#include "loopback_pages.hpp"  // read_callback_target, equal_constant_time

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// One login between /login and /callback: its machine and the values the callback is
// checked against. The code verifier stays inside the flow.
struct pending_login {
    flows::auth_code_flow flow;
    std::string state;
    std::string nonce;
    std::string context;
};

// The flow builds a public client's token request (client_id in the body). A web server is
// usually confidential: add its client authentication (RFC 6749 §2.3.1) to that one POST.
class authenticating_http final : public http_port {
public:
    authenticating_http(http_port& next, const flows::client_auth& auth, std::string token_endpoint)
        : next_(next), auth_(auth), token_endpoint_(std::move(token_endpoint)) {}

    asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                              diagnostics& diag) override {
        if (auth_.how != flows::client_auth::method::none && req.method == http_method::post &&
            req.url == token_endpoint_) {
            std::vector<std::pair<std::string, std::string>> fields, headers;
            auth_.apply(fields, headers);
            for (auto& f : fields)
                if (f.first != "client_id") req.body += "&" + form_encode({f});
            req.headers.insert(req.headers.end(), headers.begin(), headers.end());
        }
        co_return co_await next_.async_send(std::move(req), ec, diag);
    }

private:
    http_port& next_;
    const flows::client_auth& auth_;
    std::string token_endpoint_;
};

// The callback the HTTP handler received, handed to the flow when it waits for one.
class delivered_callback final : public callback_port {
public:
    explicit delivered_callback(std::string target) : target_(std::move(target)) {}
    asio::awaitable<std::string> async_wait_callback(time_point, error_code& ec) override {
        if (used_) {  // the machine waits once; a second wait would never be answered
            ec = client_errc::flow_finished;
            co_return std::string{};
        }
        used_ = true;
        co_return std::move(target_);
    }

private:
    std::string target_;
    bool used_ = false;
};

// The browser is already on its way (the 302 of /login): nothing to show.
class silent_user final : public user_port {
public:
    void show(const flows::show_user&) override {}
};

std::string claim_string(const json::object& claims, std::string_view name) {
    auto it = claims.find(name);
    return it != claims.end() && it->value().is_string() ? std::string(it->value().as_string())
                                                         : std::string{};
}

web_user user_from(json::object claims) {
    web_user u;
    u.issuer = claim_string(claims, "iss");
    u.subject = claim_string(claims, "sub");
    u.name = claim_string(claims, "name");
    u.email = claim_string(claims, "email");
    u.preferred_username = claim_string(claims, "preferred_username");
    u.claims = std::move(claims);
    return u;
}

// OIDC Discovery §3 token_endpoint_auth_methods_supported (default: client_secret_basic):
// a secret_basic client moves to secret_post when only the latter is listed.
void fit_auth_method(flows::client_auth& auth, const http_response& discovery) {
    if (auth.how != flows::client_auth::method::secret_basic) return;
    boost::system::error_code ec;
    auto doc = json::parse(discovery.body, ec);
    if (ec || !doc.is_object()) return;
    const auto* methods = doc.as_object().if_contains("token_endpoint_auth_methods_supported");
    if (!methods || !methods->is_array()) return;
    bool basic = false, post = false;
    for (const auto& m : methods->as_array()) {
        if (!m.is_string()) continue;
        basic = basic || m.as_string() == "client_secret_basic";
        post = post || m.as_string() == "client_secret_post";
    }
    if (!basic && post) auth.how = flows::client_auth::method::secret_post;
}

std::string path_of(const std::string& url) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u || u->path().empty()) return "/";
    return std::string(u->path());
}

}  // namespace

struct web_login::impl {
    impl(http_port& h, clock_port& c, web_login_options o)
        : http(h), clock(c), opts(std::move(o)), callback_path(path_of(opts.redirect_uri)),
          table(opts.max_pending, opts.pending_ttl) {
        if (opts.auth.client_id.empty()) opts.auth.client_id = opts.client_id;
    }

    flows::auth_code_params params() const {
        flows::auth_code_params p;
        p.authorization_endpoint = meta.authorization_endpoint;
        p.token_endpoint = meta.token_endpoint;
        p.client_id = opts.client_id;
        p.scope = opts.scope;
        p.redirect_uri = opts.redirect_uri;
        p.issuer = meta.issuer;  // compared exactly (RFC 9207 §2.4)
        p.iss_parameter_supported = meta.authorization_response_iss_parameter_supported;
        p.timeout = opts.pending_ttl;
        p.nudge_after = std::chrono::seconds{0};
        p.extra_auth_params = opts.extra_auth_params;
        // OIDC Core §11: offline_access is only granted with prompt=consent.
        if ((" " + opts.scope + " ").find(" offline_access ") != std::string::npos)
            p.prompt = "consent";
        return p;
    }

    http_port& http;
    clock_port& clock;
    web_login_options opts;
    std::string callback_path;
    provider_metadata meta;
    bool discovered = false;
    jwks_cache jwks;  // this object's own: no process-wide state
    detail::cookie_table<pending_login> table;
};

web_login::web_login(http_port& http, clock_port& clock, web_login_options opts)
    : impl_(std::make_unique<impl>(http, clock, std::move(opts))) {}

web_login::~web_login() = default;

const provider_metadata& web_login::metadata() const noexcept { return impl_->meta; }
std::size_t web_login::pending() const noexcept { return impl_->table.size(); }
std::size_t web_login::dropped() const noexcept { return impl_->table.dropped(); }

asio::awaitable<error_code> web_login::async_discover(diagnostics& diag) {
    auto& s = *impl_;
    error_code ec;
    diagnostics http_diag;
    auto resp = co_await s.http.async_send(make_get(discovery_url(s.opts.issuer)), ec, http_diag);
    if (ec) {
        diag = std::move(http_diag);
        diag.client_message = "cannot reach the identity provider: " + diag.client_message;
        co_return ec;
    }
    auto m = parse_provider_metadata(resp, s.opts.issuer, diag);
    if (!m) co_return m.error();
    if (m->authorization_endpoint.empty() || m->token_endpoint.empty() || m->jwks_uri.empty()) {
        diag.client_message = "the identity provider " + s.opts.issuer +
                              " advertises no authorization_endpoint, token_endpoint or "
                              "jwks_uri; it cannot sign users in with a browser";
        co_return client_errc::endpoint_missing;
    }
    fit_auth_method(s.opts.auth, resp);
    s.meta = std::move(*m);
    s.discovered = true;
    co_return error_code{};
}

result<web_login_start> web_login::begin(diagnostics& diag, std::string context) {
    auto& s = *impl_;
    if (!s.discovered) {
        diag.client_message = "sign-in is not available: the identity provider was not "
                              "discovered yet";
        return client_errc::endpoint_missing;
    }
    auto secrets = flows::make_auth_code_secrets();
    auto params = s.params();
    web_login_start out;
    out.authorize_url = flows::build_authorize_url(params, secrets);
    if (out.authorize_url.empty() || s.opts.redirect_uri.empty()) {
        diag.client_message = "cannot build the authorization request (authorization "
                              "endpoint or redirect URI unusable)";
        return client_errc::bad_url;
    }
    std::string state = secrets.state, nonce = secrets.nonce;
    auto id = s.table.insert(
        pending_login{flows::auth_code_flow{std::move(params), std::move(secrets)},
                      std::move(state), std::move(nonce), std::move(context)},
        s.clock.now());
    out.set_cookie = detail::make_set_cookie(s.opts.cookie_name, id, s.callback_path,
                                             s.opts.pending_ttl, s.opts.secure_cookies);
    return out;
}

asio::awaitable<result<web_sign_in>> web_login::async_complete(std::string target,
                                                               std::string cookie_header,
                                                               diagnostics& diag) {
    auto& s = *impl_;
    auto id = cookie_value(cookie_header, s.opts.cookie_name);
    pending_login* p = id ? s.table.find(*id, s.clock.now()) : nullptr;
    if (!p) {
        diag.client_message = "this sign-in response does not belong to a sign-in started in "
                              "this browser (no sign-in cookie, or it expired); sign in again";
        co_return client_errc::state_mismatch;
    }
    // RFC 6749 §10.12: bound to this browser's login. A mismatch leaves the login pending,
    // so a forged link can neither complete nor end it.
    auto cb = detail::read_callback_target(target, s.callback_path);
    if (!cb.on_path) {
        diag.client_message = "not a sign-in response for " + s.callback_path;
        co_return client_errc::bad_input;
    }
    // The flow decides (constant-time state compare, the one authorization-response parser).
    if (!p->flow.accepts(cb.response)) {
        diag.client_message = "this sign-in response's `state` does not match the sign-in "
                              "started in this browser (a stale or forged link?)";
        co_return client_errc::state_mismatch;
    }
    auto login = s.table.take(*id, s.clock.now());  // single use from here on

    authenticating_http http(s.http, s.opts.auth, s.meta.token_endpoint);
    delivered_callback callback(std::move(target));
    silent_user user;
    ports io{http, s.clock, user, &callback};
    auto tokens = co_await async_drive(login->flow, io, diag);
    if (!tokens) co_return tokens.error();
    if (!tokens->id_token) {
        diag.client_message = "the identity provider returned no ID token (is `openid` in "
                              "the scope?); nobody can be signed in";
        co_return client_errc::id_token_invalid;
    }
    auto claims = co_await async_verify_id_token(s.http, s.meta, s.opts.client_id,
                                                 tokens->id_token->reveal(), login->nonce,
                                                 s.clock.now(), diag, s.jwks);
    if (!claims) co_return claims.error();
    co_return web_sign_in{user_from(std::move(*claims)), std::move(*tokens), std::move(login->context)};
}

std::string web_login::clear_cookie() const {
    return detail::make_set_cookie(impl_->opts.cookie_name, "", impl_->callback_path,
                                   std::chrono::seconds{0}, impl_->opts.secure_cookies);
}

asio::awaitable<error_code> web_login::async_revoke(const token_set& tokens,
                                                    diagnostics& diag) {
    auto& s = *impl_;
    revoke_params p;
    p.revocation_endpoint = s.meta.revocation_endpoint;
    p.token = tokens.refresh_token ? *tokens.refresh_token : tokens.access_token;
    p.token_type_hint = tokens.refresh_token ? "refresh_token" : "access_token";
    p.client_id = s.opts.client_id;
    p.auth = s.opts.auth;
    co_return co_await transport::async_revoke(s.http, std::move(p), diag);
}

int web_login_status(const error_code& ec) noexcept {
    if (ec == client_errc::state_mismatch || ec == client_errc::issuer_mismatch ||
        ec == client_errc::bad_input || ec == client_errc::missing_field)
        return 400;
    if (ec == oauth_errc::access_denied || ec == oauth_errc::login_required ||
        ec == oauth_errc::consent_required || ec == oauth_errc::interaction_required)
        return 403;
    if (ec == client_errc::endpoint_missing || ec == client_errc::bad_url) return 503;
    return 502;
}

}  // namespace latchkey::transport
