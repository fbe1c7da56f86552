// latch-idp's schema, as versioned migrations (schema.hpp), for both adapters. Portable SQL
// (SQLite 3.35+ and PostgreSQL 12+): times are BIGINT Unix seconds, flags and counters INTEGER, lists space-separated
// TEXT (redirect URIs and grant names contain no spaces). Every *_hash column holds
// hash_token() of a bearer value; raw values are never stored.
#include "schema.hpp"

#include <iterator>

namespace latchkey::transport::server::detail {
namespace {

const migration all[] = {
    {1, R"sql(
CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    auth_method   TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    grant_types   TEXT NOT NULL,
    scope         TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ip         TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE auth_codes (
    code_hash      TEXT PRIMARY KEY,
    grant_id       TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    consumed_at    BIGINT NOT NULL
);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
)sql"},
    {2, R"sql(
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    status           TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    requester_ip     TEXT NOT NULL,
    requester_ua     TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    poll_interval    BIGINT NOT NULL,
    last_poll_at     BIGINT NOT NULL
);
CREATE INDEX device_codes_expiry ON device_codes(expires_at);
)sql"},
    {3, R"sql(
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
)sql"},
    // Consent (one row per user and client: the scopes granted so far) and the client
    // settings it and RP-initiated logout need.
    {4, R"sql(
ALTER TABLE clients ADD COLUMN skip_consent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
)sql"},
    // TOTP two-factor (issue 14): the sealed key and replay guard, backup codes, sign-in
    // challenges and trusted devices.
    {5, R"sql(
CREATE TABLE two_factor (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sealed_key   TEXT NOT NULL,
    verified     INTEGER NOT NULL,
    last_step    BIGINT NOT NULL,
    failures     INTEGER NOT NULL,
    locked_until BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE TABLE backup_codes (
    code_hash TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX backup_codes_user ON backup_codes(user_id);
CREATE TABLE two_factor_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    remember   INTEGER NOT NULL,
    expires_at BIGINT NOT NULL
);
)sql"},
    // Machines (RFC 7591/7592 registration, private_key_jwt): their keys, the management
    // token's hash, the registering user; and the client-assertion `jti`s seen (replay cache,
    // rows kept until the assertion expires).
    {6, R"sql(
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE TABLE assertion_jtis (
    jti_hash   TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX assertion_jtis_expiry ON assertion_jtis(expires_at);
)sql"},
    // Revoked grants: a replayed code, a reused or revoked refresh family. Access tokens carry
    // their grant as `gid`; introspection and userinfo refuse them once it is listed here.
    {7, R"sql(
CREATE TABLE revoked_grants (
    grant_id   TEXT PRIMARY KEY,
    revoked_at BIGINT NOT NULL
);
)sql"},
    // Platform roles and bans (issue 14, Better Auth's admin plugin): ban_expires 0 = never;
    // the refresh-token index serves a ban's revocation of every token of the user.
    {8, R"sql(
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN banned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN ban_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN ban_expires BIGINT NOT NULL DEFAULT 0;
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
)sql"},
    // Social login (issue 14): the upstream OpenID Providers (secret sealed under
    // DATA/secret.key) and Better Auth's account table, the users' upstream identities.
    {9, R"sql(
CREATE TABLE social_providers (
    name          TEXT PRIMARY KEY,
    issuer        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    scope         TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE account (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (provider_id, account_id)
);
CREATE INDEX account_user ON account(user_id);
CREATE INDEX users_email ON users(email);
)sql"},
    // Organizations (issue 14, Better Auth's organization plugin): members (one row per user
    // and organization), invitations by email (single use: pending -> accepted | rejected |
    // canceled), the session's active organization, and the organization a code, a device
    // authorization and a refresh family were granted under (their tokens' org claims).
    {10, R"sql(
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    logo       TEXT NOT NULL,
    metadata   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE members (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX members_user ON members(user_id);
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'canceled')),
    inviter_id      TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX invitations_organization ON invitations(organization_id);
CREATE INDEX invitations_email ON invitations(email);
ALTER TABLE sessions ADD COLUMN active_organization_id TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN organization_id TEXT NOT NULL DEFAULT '';
ALTER TABLE device_codes ADD COLUMN organization_id TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN organization_id TEXT NOT NULL DEFAULT '';
)sql"},
    // Attempt counters shared by every replica (sign-in rate limits, issue 15): one row per
    // key and fixed window; old windows are purged as new ones start.
    {11, R"sql(
CREATE TABLE rate_limits (
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_window ON rate_limits(window_start);
)sql"},
    // DPoP (RFC 9449): clients registered with dpop_bound_access_tokens (§5.2), and the key a
    // public client's refresh token is bound to (§5, its RFC 7638 thumbprint; '' = none).
    {12, R"sql(
ALTER TABLE clients ADD COLUMN dpop_bound INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN jkt TEXT NOT NULL DEFAULT '';
)sql"},
};

}  // namespace

const migration* migrations_begin() { return std::begin(all); }
const migration* migrations_end() { return std::end(all); }

std::string newer_schema_problem(int current) {
    const int newest = (migrations_end() - 1)->version;
    if (current <= newest) return {};
    return "the database was written by a newer latch-idp (schema " + std::to_string(current) +
           ", this one knows up to " + std::to_string(newest) + ")";
}

}  // namespace latchkey::transport::server::detail
