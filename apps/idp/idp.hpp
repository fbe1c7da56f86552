// latch-idp's wiring (the composition root): shared declarations of the executable.
#pragma once

#include "mail.hpp"
#include "ops.hpp"

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/core/pkey.hpp>
#include <latchkey/core/secret.hpp>
#include <latchkey/flows/server/client_address.hpp>
#include <latchkey/flows/server/dpop.hpp>
#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/records.hpp>
#include <latchkey/flows/server/page_guard.hpp>
#include <latchkey/flows/server/session.hpp>
#include <latchkey/flows/server/user_code.hpp>
#include <latchkey/transport/server/http_server.hpp>
#include <latchkey/transport/server/password_hasher.hpp>
#include <latchkey/transport/server/store.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace latchkey::idp {

namespace ts = latchkey::transport::server;

struct social_hub;  // social.hpp: the upstream providers' clients (one io_context, cached)

// Exit codes: 0 ok, 1 bad input or a failed operation, 2 usage (CLI11).
int fail(const std::string& message);

// Where the records are: PostgreSQL when `database` is a postgresql:// URI (replicas share
// it), else SQLite in DATA/idp.db (the data directory is created 0700).
struct store_location {
    std::string data;      // the data directory (secret.key; idp.db without --database)
    std::string database;  // postgresql://... ; empty: SQLite in `data`
    std::size_t pool = 4;  // PostgreSQL connections at most (--database-pool)
};
result<std::unique_ptr<ts::store>> open_store(const store_location& at, diagnostics& diag);
// The sealing key: `key_file` (--secret-key-file: must exist) or DATA/secret.key (32 random
// bytes made 0600 at first use); refused when readable by others. Replicas are given the
// same key: it seals TOTP keys, keys backup-code hashes and derives the CSRF key.
result<std::string> load_or_create_sealing_key(const std::string& dir, diagnostics& diag,
                                               const std::string& key_file = {});

// Runs one awaitable to its end on a private io_context (the admin commands).
template <class T>
T await_sync(boost::asio::awaitable<T> aw) {
    boost::asio::io_context io;
    std::optional<T> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T v) {
        failure = e;
        if (!e) out.emplace(std::move(v));
    });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*out);
}

std::int64_t unix_now();

// ---- admin commands (admin.cpp)
struct user_add_options {
    store_location at;
    std::string username, password_file;
    std::string id;           // the subject; default: random (set it to keep a `sub` from another IdP)
    std::string email, name;  // OIDC claims (email / profile scopes)
    std::string role = "user";  // platform role (flows/server/roles.hpp): user, admin, platform-admin
};
int user_add(const user_add_options& o);
int user_list(const store_location& at);
int user_rm(const store_location& at, const std::string& username);
// Sets a user's platform role (bootstraps the first admin of the admin endpoints).
int user_set_role(const store_location& at, const std::string& username, const std::string& role);

struct client_add_options {
    store_location at;
    std::string client_id, name, scope = "openid";
    std::string secret_file;  // a confidential client's secret (first line); default: generated and printed
    bool confidential = false;
    bool public_client = false;  // the default; the flag only documents it
    bool skip_consent = false;   // trusted first party: no consent page
    std::vector<std::string> redirect_uris, grants, post_logout_redirect_uris;
};
int client_add(const client_add_options& o);
// The records' store, or exit 1 with the reason (admin commands).
std::unique_ptr<ts::store> open_or_exit(const store_location& at);
// The first line of `file` (else, when `file` is empty, $LATCH_IDP_PASSWORD); nullopt when
// unreadable or empty. Secrets never come from argv.
std::optional<secret> read_password(const std::string& file);

// `latch-idp social add|list|rm` (social_admin.cpp): upstream providers for "Sign in with NAME".
struct social_add_options {
    store_location at;
    std::string name, issuer, client_id, secret_file;
    std::string scope = "openid email profile";
};
int social_add(const social_add_options& o);
int social_list(const store_location& at);
int social_rm(const store_location& at, const std::string& name);
int client_list(const store_location& at);
int client_rm(const store_location& at, const std::string& client_id);

// ---- the signing keys (keys.cpp)
struct signing_keys {
    pkey_ptr active;
    std::string active_kid;
    std::string active_alg;          // "ES256" or "RS256"
    std::vector<std::string> algs;   // of the published keys, the signing one first
    boost::json::object jwks;  // {"keys": [...]}: active and retired public keys
};
// Loads the keys. The newest active key of `alg` signs (any alg when empty); when there is
// none (first start) one is generated and stored (ES256 when `alg` is empty). Other keys are
// published while younger than `publish_for` seconds after their successor.
boost::asio::awaitable<result<signing_keys>> load_or_create_keys(ts::store& st, diagnostics& diag,
                                                                 std::int64_t publish_for, std::string alg = {});
bool known_signing_alg(const std::string& alg);  // ES256, RS256
// `latch-idp keys rotate [--alg RS256]`: adds a new signing key (prints its kid).
// `audit_file`: append a key_rotate line there (none when empty).
int keys_rotate(const store_location& at, const std::string& alg = "ES256", const std::string& audit_file = {});

// ---- the endpoints (endpoints.cpp)
struct idp_config {
    std::string issuer;                 // no trailing slash
    std::int64_t access_token_ttl = 3600;
    std::int64_t refresh_token_ttl = 30 * 86400;
    std::int64_t device_interval = 5;  // RFC 8628 §3.2 interval, seconds (slow_down adds 5 per code)
};
struct idp_state {
    idp_config config;
    ts::store& store;
    signing_keys keys;
    ts::password_hasher& hasher;
    std::string discovery;  // serialized once
    std::string jwks;       // serialized once
    // Device flow (RFC 8628): user code length sized from the limits at start-up.
    flows::server::user_code_limits code_limits;
    std::size_t user_code_length = 12;
    std::string csrf_key;  // derived from the sealing key: a form one replica renders, another accepts
    flows::server::attempt_limiter code_attempts;  // per IP and global, per minute
    // Better Auth's /api/auth/*: origins allowed on state-changing calls (the issuer's and
    // --trusted-origin ones), sign-up/sign-in attempts (per IP and global, per minute).
    std::vector<std::string> trusted_origins;
    flows::server::attempt_limiter account_attempts{30, 600};
    // Replicas (a shared database): sign-in attempts are counted in the store, so the limits
    // hold across processes; account_attempts is then the fallback when the database fails.
    bool shared_limits = false;
    std::uint64_t sign_in_limit_per_ip = 30, sign_in_limit_total = 600;
    // --trusted-proxy: X-Forwarded-For is read from these peers only (client_address.hpp).
    std::vector<flows::server::cidr> trusted_proxies;
    bool https = false;  // the issuer is https: __Secure- cookie names, Secure attribute
    // Seals TOTP keys and keys backup-code hashes (DATA/secret.key, 0600, made at first start).
    std::string sealing_key;
    std::string dpop_nonce_key;  // derived from sealing_key: every replica's nonces (RFC 9449 §8)
    std::string dummy_password_hash;  // argon2id of a fixed string: unknown names cost a verify too
    // RFC 7591 initial access token (hash), from serve --initial-access-token-file; empty: none.
    std::string initial_access_token_hash;
    // Operations (ops.hpp): counters and the audit log; the main listener (its connections
    // for /metrics); the hashing pool's bound. Null in tests that build a bare state.
    ops_state* ops = nullptr;
    const ts::http_server* server = nullptr;
    std::size_t hashing_capacity = 0;
    // A platform (platforms.hpp) served under /p/NAME: the prefix of its pages' paths
    // ("/p/NAME"; empty otherwise) and its cookies' names and Path. `cookies.https` follows
    // `https`.
    std::string path_prefix;
    flows::server::cookie_scope cookies;
    std::string platform;  // its name; empty in single-platform mode
    social_hub* social = nullptr;  // null: no social login (tests that build a bare state)
    // Outgoing mail (invitations): --mail-file / --mail-command; null: mails are dropped.
    mail_sink* mail = nullptr;
};
// A path of ours as the browser must ask for it (under the platform's prefix).
inline std::string local_path(const idp_state& st, std::string_view path) {
    return st.path_prefix + std::string(path);
}
// The router: every request of the server goes through here (timed and counted).
boost::asio::awaitable<http_response> handle(idp_state& st, ts::server_request req);
// The --metrics-listen listener's router: /metrics, /healthz, /readyz (timed and counted).
boost::asio::awaitable<http_response> handle_ops(idp_state& st, ts::server_request req);

// ---- operations (ops_endpoints.cpp)
// A text/plain answer with Cache-Control: no-store and X-Content-Type-Options: nosniff.
http_response plain_text(int status, std::string body);
// 200 with Prometheus's text exposition content type.
http_response prometheus_text(std::string body);
http_response healthz();  // 200 "ok": the process answers
// 200 when the signing key is loaded and the database answers a look-up within 1 s; else 503.
boost::asio::awaitable<http_response> readyz(idp_state& st);
http_response metrics_page(const idp_state& st);  // Prometheus text
boost::asio::awaitable<http_response> ops_dispatch(idp_state& st, const ts::server_request& req);
// A sign-in attempt (or second factor): the login counters and an audit line. `reason`: a
// fixed word of ours ("bad_password", "bad_code", "locked"...). Never a password or a code.
void note_sign_in(idp_state& st, const ts::server_request& req, login_method m, bool ok, std::string_view user_id,
                  std::string_view username, std::string_view reason = {});
// Other audited events: sign_up, two_factor_enable/disable, backup_codes_regenerate,
// consent_grant, client_register/update/delete.
struct account_event {
    std::string_view event;
    bool ok = true;
    std::string_view outcome;  // instead of success/failure, e.g. "second_factor_required"
    std::string_view user_id, username, client_id, reason;
    std::string_view method;  // how, e.g. "social:google"
    std::string_view organization_id, target, role;  // organization events
};
void note_event(idp_state& st, const ts::server_request* req, const account_event& a);
boost::asio::awaitable<http_response> token_endpoint(idp_state& st, const ts::server_request& req);
// One sign-in attempt (password, sign-up, second factor) from the request's client: false
// when over --sign-in-limit (per client address) or --sign-in-limit-total, per minute;
// counted in the database when replicas share it (limits.cpp).
boost::asio::awaitable<bool> allow_sign_in(idp_state& st, const ts::server_request& req);

// Device authorization (device.cpp): the endpoint, the verification page and the grant.
boost::asio::awaitable<http_response> device_authorization(idp_state& st, const ts::server_request& req);
boost::asio::awaitable<http_response> device_page(idp_state& st, const ts::server_request& req);
boost::asio::awaitable<http_response> device_code_grant(idp_state& st, const flows::server::form& params,
                                                        const flows::server::client_record& client,
                                                        std::string jkt);
// Refresh tokens (refresh.cpp). `family_id`: the grant (a code's grant_id, so that replaying
// the code revokes them); empty: a new family. `jkt`: the DPoP key it is bound to (RFC 9449
// §5, public clients: refresh_binding); empty: none.
boost::asio::awaitable<result<secret>> mint_refresh_token(idp_state& st, const std::string& client_id,
                                                          const std::string& user_id, const std::string& scope,
                                                          std::string family_id = {},
                                                          std::string organization_id = {}, std::string jkt = {});
// The key a client's refresh token is bound to: a public client's DPoP key (a confidential
// client's tokens are already bound to its authentication, RFC 9449 §5).
inline std::string refresh_binding(const flows::server::client_record& c, const std::string& jkt) {
    return c.is_public() ? jkt : std::string{};
}
boost::asio::awaitable<http_response> revocation_endpoint(idp_state& st, const ts::server_request& req);
// RFC 7662 introspection for authenticated (confidential) clients (introspect.cpp).
boost::asio::awaitable<http_response> introspection_endpoint(idp_state& st, const ts::server_request& req);
// The claims of a JWT signed by one of our published keys with our issuer as `iss`; nullopt
// otherwise. Expiry is the caller's to check (introspect.cpp).
std::optional<boost::json::object> our_jwt_claims(const idp_state& st, std::string_view token);
// The introspection answer for one of our live access tokens (signature, iss, exp); nullopt
// when it is not one or has expired.
std::optional<boost::json::object> access_token_info(const idp_state& st, std::string_view token);
// access_token_info, and nullopt as well when the token's grant (`gid`) has been revoked.
boost::asio::awaitable<result<std::optional<boost::json::object>>> live_access_token(idp_state& st,
                                                                                    std::string token);
// DPoP (dpop.cpp, RFC 9449). The token endpoint's proof: none (no DPoP header), or verified
// with a current nonce of ours and a jti not seen before; else the answer (400
// invalid_dpop_proof, or use_dpop_nonce with a DPoP-Nonce header: the §8 challenge).
struct dpop_checked {
    std::optional<flows::server::verified_dpop> proof;
    std::optional<http_response> error;
};
boost::asio::awaitable<dpop_checked> token_request_dpop(idp_state& st, const ts::server_request& req);
void add_dpop_nonce(const idp_state& st, http_response& r);  // a fresh DPoP-Nonce header
// A resource request's access token ("Bearer" or "DPoP" scheme): live, and used as its
// binding says (§7.1: a bound token with the DPoP scheme and a proof by its key whose `ath`
// is its hash, the proof's jti not seen before; a bearer token with Bearer). `absent`: no
// such Authorization header (the caller answers as RFC 6750 §3.1 says); `error`: the 401.
struct resource_access {
    std::optional<boost::json::object> info;  // access_token_info, cnf included
    bool absent = false;
    std::optional<http_response> error;
};
boost::asio::awaitable<resource_access> resource_access_token(idp_state& st, const ts::server_request& req);
// RFC 7591/7592 registration of machines (registration.cpp): /oauth2/register[/ID].
boost::asio::awaitable<http_response> registration_endpoint(idp_state& st, const ts::server_request& req);
// OIDC userinfo for a bearer access token with openid scope (introspect.cpp).
boost::asio::awaitable<http_response> userinfo_endpoint(idp_state& st, const ts::server_request& req);
boost::asio::awaitable<http_response> refresh_token_grant(idp_state& st, const flows::server::form& params,
                                                          const flows::server::client_record& client,
                                                          std::string jkt);
// The authorization endpoint and the authorization_code grant (authorize.cpp).
boost::asio::awaitable<http_response> authorize_endpoint(idp_state& st, const ts::server_request& req);
boost::asio::awaitable<http_response> authorization_code_grant(idp_state& st, const flows::server::form& params,
                                                               const flows::server::client_record& client,
                                                               std::string jkt);
// The organization a grant carries into its tokens: the claims org_id, org_role (and
// org_slug in userinfo). Empty id: none.
struct org_claim {
    std::string id, role, slug;
};
// The membership of `user_id` in `organization_id` now: empty when organization_id is
// empty, the organization is gone or the user is no longer a member.
boost::asio::awaitable<result<org_claim>> grant_org(idp_state& st, std::string user_id, std::string organization_id);
// An access token JWT; `role` (the user's platform role) becomes its `role` claim when set;
// `grant_id`: the grant (a code's grant_id, the refresh family) whose revocation ends it;
// `org`: the org_id / org_role claims when set; `jkt`: the DPoP key it is bound to (RFC 9449
// §6: its cnf claim), empty: a bearer token.
result<std::string> issue_access_token(idp_state& st, const std::string& subject, const std::string& client_id,
                                       const std::string& scope, const std::string& role = {},
                                       const std::string& grant_id = {}, const org_claim& org = {},
                                       const std::string& jkt = {});
// The user a user grant (code, device, refresh) issues tokens for, loaded once for the
// access token's role and the ID token's claims. nullopt: the user is gone or banned (answer
// invalid_grant). Errors: storage (busy, failed).
boost::asio::awaitable<result<std::optional<flows::server::user_record>>> grant_user(idp_state& st, std::string user_id);
// Adds "id_token" to a token response `body` when `scope` has openid: signed, with the
// user's claims the scope releases. Error: server_error (signing failed).
error_code add_id_token(idp_state& st, boost::json::object& body, const flows::server::user_record& user,
                        const std::string& client_id, const std::string& nonce, const std::string& scope,
                        const org_claim& org = {});
// The password grant, for clients allowed it (password_grant.cpp).
boost::asio::awaitable<http_response> password_grant(idp_state& st, const ts::server_request& req,
                                                     const flows::server::form& params,
                                                     const flows::server::client_record& client,
                                                     std::string jkt);
// The authenticated client of a token-endpoint-style request, or the error response.
struct authenticated {
    std::optional<flows::server::client_record> client;
    std::optional<http_response> error;
};
boost::asio::awaitable<authenticated> authenticate_request(idp_state& st, const ts::server_request& req,
                                                           const flows::server::form& params);

// RP-Initiated Logout 1.0 (logout.cpp): the end_session_endpoint, /oauth2/logout.
boost::asio::awaitable<http_response> end_session_endpoint(idp_state& st, const ts::server_request& req);

// Browser sessions (sessions.cpp): the session cookie of a request, looked up with sliding
// expiry; `set_cookie` non-empty when its expiry moved (send it again).
struct session_found {
    std::optional<ts::session_use_result> found;
    std::string set_cookie;
};
boost::asio::awaitable<result<session_found>> current_session(idp_state& st, const ts::server_request& req);
// Starts a session for `user`; returns the Set-Cookie header value.
boost::asio::awaitable<result<std::string>> start_session(idp_state& st, const ts::server_request& req,
                                                          const flows::server::user_record& user, bool remember);
// The invitation page /accept-invitation/<id> (accept_page.cpp): sign in, then accept or decline.
boost::asio::awaitable<http_response> accept_invitation_page(idp_state& st, const ts::server_request& req);
// Better Auth's core endpoints under /api/auth/ (better_auth.cpp).
boost::asio::awaitable<http_response> better_auth(idp_state& st, const ts::server_request& req);

// Responses shared by the handlers.
http_response json_response(int status, std::string body);
http_response oauth_error(error_code ec, std::string_view description);
http_response storage_error(error_code ec);
http_response token_response(const boost::json::object& body);  // 200, no-store  // busy: 503 + Retry-After; else 500

// ---- platforms (platforms.cpp): DATA/platforms/NAME, each a whole data directory
struct platform_info {
    std::string name;
    std::string host;    // canonical --host (lowercase, maybe :PORT); empty: served under /p/NAME/
    std::string issuer;  // --issuer; empty: derived at serve time (flows/server/platform_route.hpp)
};
std::string platforms_dir(const std::string& data);
std::string platform_dir(const std::string& data, const std::string& name);
// The platform NAME of DATA, when it exists (provisioned: its idp.db is there).
std::optional<platform_info> read_platform(const std::string& data, const std::string& name);
std::vector<platform_info> list_platforms(const std::string& data);  // by name
// `--platform NAME` of an admin command: `data` becomes the platform's directory. false
// (message printed) when there is no such platform; true and `data` unchanged when empty.
bool use_platform(std::string& data, const std::string& platform);
struct platform_add_options {
    std::string data, name, host, issuer;
};
int platform_add(const platform_add_options& o);
int platform_list(const std::string& data);
int platform_rm(const std::string& data, const std::string& name, bool yes);

// ---- serve (serve.cpp)
struct serve_options {
    std::string data, listen = "127.0.0.1:0", issuer;
    std::string database;            // postgresql://... (replicas); empty: SQLite in DATA
    std::size_t database_pool = 4;   // PostgreSQL connections at most
    std::string secret_key_file;     // the sealing key (replicas share it); default DATA/secret.key
    std::vector<std::string> trusted_proxies;  // CIDRs whose X-Forwarded-For is believed
    bool behind_proxy = false;       // refuse to start without trusted_proxies
    std::int64_t access_token_ttl = 3600;
    std::int64_t device_interval = 5;
    std::vector<std::string> trusted_origins;  // besides the issuer's
    // Sign-in/sign-up attempts allowed per minute (password grant and /api/auth/*).
    std::uint64_t sign_in_limit_per_ip = 30, sign_in_limit_total = 600;
    std::string signing_alg;                   // ES256 / RS256; empty: the newest key's
    std::string tls_cert, tls_key;             // PEM files: serve https
    std::string initial_access_token_file;     // RFC 7591 §3: registrations by whoever holds it
    std::string audit_log;                     // JSON lines of sign-ins and account changes
    std::string metrics_listen;                // ADDRESS:PORT of /metrics (none when empty)
    std::string mail_file, mail_command;       // the mail sink (mail.hpp); none: mails are dropped
};
int serve(const serve_options& o);

}  // namespace latchkey::idp
