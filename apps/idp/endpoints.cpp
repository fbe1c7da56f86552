// latch-idp's HTTP endpoints: the router, discovery, JWKS and the token endpoint.
#include "authorize.hpp"
#include "idp.hpp"

#include <latchkey/core/jws_sign.hpp>
#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/authorize.hpp>
#include <latchkey/flows/server/client_auth.hpp>
#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

#include <chrono>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

http_response json_response(int status, std::string body) {
    http_response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    r.headers = {{"X-Content-Type-Options", "nosniff"}};
    return r;
}

http_response oauth_error(error_code ec, std::string_view description) {
    auto r = json_response(fs::oauth_error_status(ec), fs::oauth_error_body(ec, description));
    r.headers.emplace_back("Cache-Control", "no-store");
    if (ec == oauth_errc::invalid_client) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"latch-idp\"");
    if (ec == oauth_errc::temporarily_unavailable) r.headers.emplace_back("Retry-After", "1");
    return r;
}

namespace {

http_response not_found() {
    http_response r;
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "not found\n";
    return r;
}

http_response method_not_allowed(const char* allow) {
    http_response r;
    r.status = 405;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "method not allowed\n";
    r.headers = {{"Allow", allow}};
    return r;
}

}  // namespace

// Storage trouble, as the client sees it: busy -> 503 + Retry-After, else 500.
http_response storage_error(error_code ec) {
    if (ec == fs::server_errc::busy) return oauth_error(oauth_errc::temporarily_unavailable, "server busy, retry");
    return oauth_error(oauth_errc::server_error, "");
}

result<std::string> issue_access_token(idp_state& st, const std::string& subject, const std::string& client_id,
                                       const std::string& scope, const std::string& role, const std::string& grant_id,
                                       const org_claim& org, const std::string& jkt) {
    fs::access_token_params p{st.config.issuer, subject, client_id, "", scope, random_urlsafe(16),
                              unix_now(), st.config.access_token_ttl, role, grant_id, org.id, org.role, jkt};
    return sign_jwt(st.keys.active.get(), st.keys.active_kid, fs::access_token_claims(p));
}

boost::asio::awaitable<result<std::optional<fs::user_record>>> grant_user(idp_state& st, std::string user_id) {
    auto user = co_await st.store.find_user_by_id(std::move(user_id));
    if (!user && user.error() == fs::server_errc::not_found) co_return std::optional<fs::user_record>{};
    if (!user) co_return user.error();
    if (fs::ban_in_force(*user, unix_now())) co_return std::optional<fs::user_record>{};
    co_return std::optional<fs::user_record>(std::move(*user));
}

boost::asio::awaitable<result<org_claim>> grant_org(idp_state& st, std::string user_id, std::string organization_id) {
    org_claim out;
    if (organization_id.empty()) co_return out;
    auto found = co_await st.store.find_organization(std::move(organization_id), false);
    if (!found && found.error() == fs::server_errc::not_found) co_return out;
    if (!found) co_return found.error();
    for (const auto& m : found->members)
        if (m.user_id == user_id) out = {found->org.id, m.role, found->org.slug};
    co_return out;
}

error_code add_id_token(idp_state& st, boost::json::object& body, const fs::user_record& user,
                        const std::string& client_id, const std::string& nonce, const std::string& scope,
                        const org_claim& org) {
    if ((" " + scope + " ").find(" openid ") == std::string::npos) return {};
    auto claims = fs::id_token_claims(st.config.issuer, user.id, client_id, nonce, unix_now(), 3600);
    fs::add_user_claims(claims, user, scope);
    if (!org.id.empty()) {
        claims["org_id"] = org.id;
        claims["org_role"] = org.role;
        claims["org_slug"] = org.slug;
    }
    auto signed_token = sign_jwt(st.keys.active.get(), st.keys.active_kid, claims);
    if (!signed_token) return make_error_code(oauth_errc::server_error);
    body["id_token"] = *signed_token;
    return {};
}

// A token response (RFC 6749 §5.1) from its JSON body.
http_response token_response(const boost::json::object& body) {
    auto r = json_response(200, boost::json::serialize(body));
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("Pragma", "no-cache");
    return r;
}

boost::asio::awaitable<authenticated> authenticate_request(idp_state& st, const ts::server_request& req,
                                                           const fs::form& params) {
    diagnostics diag;
    auto presented = fs::parse_client_auth(req.header("Authorization"), params, diag);
    if (!presented) co_return authenticated{{}, oauth_error(presented.error(), diag.client_message)};
    auto client = co_await st.store.find_client(presented->client_id);
    if (!client && client.error() != fs::server_errc::not_found)
        co_return authenticated{{}, storage_error(client.error())};
    if (!client) co_return authenticated{{}, oauth_error(oauth_errc::invalid_client, "client authentication failed")};
    if (auto ec = fs::authenticate_client(*presented, *client, diag))
        co_return authenticated{{}, oauth_error(ec, diag.client_message)};
    if (presented->method == fs::client_auth_method::private_key_jwt) {
        // RFC 7523 §3: the token endpoint's URL is the audience; the issuer is accepted too.
        const std::vector<std::string> audiences{st.config.issuer + "/oauth2/token", st.config.issuer};
        const auto now = unix_now();
        auto verified = fs::verify_client_assertion(presented->assertion.reveal(), *client, audiences, now, diag);
        if (!verified) co_return authenticated{{}, oauth_error(oauth_errc::invalid_client, diag.client_message)};
        std::string jti_hash = fs::hash_token(client->client_id + ":" + verified->jti);
        auto fresh = co_await st.store.remember_jti(std::move(jti_hash), verified->expires_at, now);
        if (!fresh) co_return authenticated{{}, storage_error(fresh.error())};
        if (!*fresh)
            co_return authenticated{{}, oauth_error(oauth_errc::invalid_client, "the client assertion was already used")};
    }
    co_return authenticated{std::move(*client), {}};
}

namespace {

// The grant, for an authenticated client; `jkt`: the DPoP key its access token is bound to.
boost::asio::awaitable<http_response> run_grant(idp_state& st, const ts::server_request& req, const fs::form& params,
                                                const fs::client_record& client, const std::string& jkt) {
    diagnostics diag;
    const auto grant = params.value_or_empty("grant_type");
    if (grant.empty()) co_return oauth_error(oauth_errc::invalid_request, "grant_type is missing");
    if (grant == "urn:ietf:params:oauth:grant-type:device_code") co_return co_await device_code_grant(st, params, client, jkt);
    if (grant == "refresh_token") co_return co_await refresh_token_grant(st, params, client, jkt);
    if (grant == "authorization_code") co_return co_await authorization_code_grant(st, params, client, jkt);
    if (grant == "password") co_return co_await password_grant(st, req, params, client, jkt);
    if (grant != "client_credentials")
        co_return oauth_error(oauth_errc::unsupported_grant_type, "this server does not support that grant yet");
    auto scope = fs::decide_client_credentials(params, client, diag);
    if (!scope) co_return oauth_error(scope.error(), diag.client_message);
    auto token = issue_access_token(st, client.client_id, client.client_id, *scope, {}, {}, {}, jkt);
    if (!token) co_return oauth_error(oauth_errc::server_error, "");
    auto r = json_response(200, fs::token_response_body(*token, st.config.access_token_ttl, *scope, {}, !jkt.empty()));
    r.headers.emplace_back("Cache-Control", "no-store");  // RFC 6749 §5.1
    r.headers.emplace_back("Pragma", "no-cache");
    co_return r;
}

}  // namespace

boost::asio::awaitable<http_response> token_endpoint(idp_state& st, const ts::server_request& req) {
    if (req.method != http_method::post) co_return method_not_allowed("POST");
    const auto ctype = req.header("Content-Type");
    if (ctype.rfind("application/x-www-form-urlencoded", 0) != 0)
        co_return oauth_error(oauth_errc::invalid_request, "expected application/x-www-form-urlencoded");
    auto params = fs::form::parse(req.body);
    if (!params) co_return oauth_error(oauth_errc::invalid_request, "malformed or repeated parameters");
    // RFC 9449 §5: the proof (and its nonce) before the client's assertion, so the nonce
    // challenge does not spend the assertion's jti.
    auto dpop = co_await token_request_dpop(st, req);
    if (dpop.error) co_return std::move(*dpop.error);
    auto auth = co_await authenticate_request(st, req, *params);
    if (auth.error) co_return std::move(*auth.error);
    if (!dpop.proof && auth.client->dpop_bound)  // RFC 9449 §5.2 dpop_bound_access_tokens
        co_return oauth_error(oauth_errc::invalid_dpop_proof, "this client's tokens must be DPoP-bound: send a DPoP proof");
    const std::string jkt = dpop.proof ? dpop.proof->jkt : std::string{};
    http_response r = co_await run_grant(st, req, *params, *auth.client, jkt);
    add_dpop_nonce(st, r);  // §8.2: the nonce for the next request
    co_return r;
}

namespace {

boost::asio::awaitable<http_response> dispatch(idp_state& st, const ts::server_request& req) {
    const auto path = req.path();
    if (path == "/healthz" || path == "/readyz") co_return co_await ops_dispatch(st, req);
    if (path == "/.well-known/openid-configuration" || path == "/.well-known/oauth-authorization-server") {
        if (req.method != http_method::get) co_return method_not_allowed("GET");
        auto r = json_response(200, st.discovery);
        r.headers.emplace_back("Access-Control-Allow-Origin", "*");  // public metadata
        co_return r;
    }
    if (path == "/.well-known/jwks.json") {
        if (req.method != http_method::get) co_return method_not_allowed("GET");
        auto r = json_response(200, st.jwks);
        r.headers.emplace_back("Access-Control-Allow-Origin", "*");
        r.headers.emplace_back("Cache-Control", "max-age=300");
        co_return r;
    }
    if (path == "/oauth2/token") co_return co_await token_endpoint(st, req);
    if (path == "/oauth2/device_authorization") co_return co_await device_authorization(st, req);
    if (path == "/device") co_return co_await device_page(st, req);
    if (path == "/oauth2/authorize") co_return co_await authorize_endpoint(st, req);
    if (path == "/oauth2/consent") co_return co_await consent_endpoint(st, req);
    if (path == "/oauth2/logout") co_return co_await end_session_endpoint(st, req);
    if (path == "/oauth2/revoke") co_return co_await revocation_endpoint(st, req);
    if (path == "/oauth2/introspect") co_return co_await introspection_endpoint(st, req);
    if (path == "/oauth2/userinfo") co_return co_await userinfo_endpoint(st, req);
    if (path == "/oauth2/register" || path.rfind("/oauth2/register/", 0) == 0)
        co_return co_await registration_endpoint(st, req);
    if (path.rfind("/api/auth/", 0) == 0) co_return co_await better_auth(st, req);
    if (path.rfind("/accept-invitation/", 0) == 0) co_return co_await accept_invitation_page(st, req);
    co_return not_found();
}

void observe(idp_state& st, route r, int status, std::chrono::steady_clock::time_point start) {
    if (!st.ops) return;
    const auto took = std::chrono::steady_clock::now() - start;
    st.ops->metrics.observe(r, status,
                            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
    if (status == 429) st.ops->metrics.rate_limited.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

boost::asio::awaitable<http_response> handle(idp_state& st, ts::server_request req) {
    const auto start = std::chrono::steady_clock::now();
    if (!st.trusted_proxies.empty())  // --trusted-proxy: the client behind them
        req.peer_ip = flows::server::client_address(req.peer_ip, req.header("x-forwarded-for"), st.trusted_proxies);
    auto r = route_of(req.path());
    if (r == route::metrics) r = route::not_found;  // served on --metrics-listen only
    http_response resp = co_await dispatch(st, req);
    observe(st, r, resp.status, start);
    co_return resp;
}

boost::asio::awaitable<http_response> handle_ops(idp_state& st, ts::server_request req) {
    const auto start = std::chrono::steady_clock::now();
    auto r = route_of(req.path());
    if (r != route::metrics && r != route::healthz && r != route::readyz) r = route::not_found;
    http_response resp = co_await ops_dispatch(st, req);
    observe(st, r, resp.status, start);
    co_return resp;
}

}  // namespace latchkey::idp
