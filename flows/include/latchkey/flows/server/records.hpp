// What the server stores, as plain values (no database types): the storage port takes and
// returns these, and the pure protocol functions decide on them. Times are Unix seconds.
// Every *_hash member is hash_token() of a value only the holder has (token_hash.hpp).
#pragma once

#include <cstdint>
#include <string_view>
#include <string>
#include <vector>

namespace latchkey::flows::server {

struct client_record {
    std::string client_id;
    std::string name;
    // "none" (public client), "client_secret_basic" or "client_secret_post". A confidential
    // client may authenticate with either secret method (both carry the same secret).
    std::string auth_method = "none";
    std::string secret_hash;                 // empty for public clients
    std::vector<std::string> redirect_uris;  // exact (loopback: any port), redirect_uri.hpp
    std::vector<std::string> grant_types;    // "authorization_code", "client_credentials", ...
    std::string scope;                       // space-separated scopes the client may ask for
    std::int64_t created_at = 0;
    bool skip_consent = false;  // trusted first party: signing in is consent (client add --skip-consent)
    std::vector<std::string> post_logout_redirect_uris;  // RP-initiated logout, exact match
    // Machines (RFC 7591 registration, auth_method "private_key_jwt"): the registered public
    // keys (a JWKS document), the hash of the RFC 7592 registration access token, and the
    // user who registered it (empty: an initial access token or an admin).
    std::string jwks;
    std::string registration_token_hash;
    std::string owner;
    // RFC 9449 §5.2 dpop_bound_access_tokens: the token endpoint refuses requests without a
    // DPoP proof.
    bool dpop_bound = false;

    bool is_public() const { return auth_method == "none"; }
    bool allows_grant(std::string_view g) const {
        for (const auto& x : grant_types)
            if (x == g) return true;
        return false;
    }
};

struct user_record {
    std::string id;             // opaque, stable: the `sub`
    std::string username;       // unique
    std::string password_hash;  // argon2id encoded string ($argon2id$v=19$m=...)
    std::int64_t created_at = 0;
    std::string name;   // display name (Better Auth's user.name, OIDC `name`); may be empty
    std::string email;  // OIDC `email`; may be empty
    // Platform role and ban (Better Auth's admin plugin; roles.hpp): "user", "admin" or
    // "platform-admin", or several joined by ','. A ban is in force while banned and
    // ban_expires is 0 (never) or later than now.
    std::string role = "user";
    bool banned = false;
    std::string ban_reason;
    std::int64_t ban_expires = 0;
};

// An authorization code (RFC 6749 §4.1.2) as stored; single use.
struct code_record {
    std::string code_hash;
    std::string grant_id;  // what it issued is revoked if it is replayed (RFC 6749 §4.1.2)
    std::string client_id;
    std::string user_id;
    std::string redirect_uri;
    std::string scope;
    std::string nonce;
    std::string code_challenge;  // S256 only; empty when issued without PKCE
    std::int64_t expires_at = 0;
    std::int64_t consumed_at = 0;  // 0: not redeemed yet
    std::string organization_id;   // the approving session's active organization ("" none)
};

// A refresh token; one family per grant, rotated on every use (RFC 9700 §4.14.2).
struct refresh_record {
    std::string token_hash;
    std::string family_id;
    std::string client_id;
    std::string user_id;
    std::string scope;
    std::int64_t expires_at = 0;
    std::int64_t rotated_at = 0;  // 0: current
    std::int64_t revoked_at = 0;  // 0: not revoked
    std::string organization_id;  // of the grant (its tokens' org claims); kept on rotation
    // A public client's token requested with a DPoP proof is bound to that key (RFC 9449 §5):
    // its RFC 7638 thumbprint; refreshing it needs a proof by the same key. Empty: unbound.
    std::string jkt = {};
};

// A device authorization (RFC 8628 §3.2), looked up by device code hash or user code.
struct device_record {
    std::string device_code_hash;
    std::string user_code;  // canonical (user_code.hpp), unique while pending
    std::string client_id;
    std::string scope;
    std::string status = "pending";  // pending | approved | denied | consumed
    std::string user_id;             // set on approval
    std::string requester_ip;
    std::string requester_ua;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
    std::int64_t interval = 5;        // seconds; grows by 5 on every slow_down (§3.5)
    std::int64_t last_poll_at = 0;
    std::string organization_id;      // set on approval: the approving session's active organization
};

// A browser session (cookie); the cookie holds the raw token, the row its hash.
struct session_record {
    std::string token_hash;
    std::string user_id;
    std::string ip;
    std::string user_agent;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    std::int64_t expires_at = 0;
    std::string active_organization_id;  // Better Auth's session.activeOrganizationId; "" none
};

// A signing key (JWKS). The private key PEM stays inside the data directory (mode 0600).
struct signing_key_record {
    std::string kid;
    std::string alg;          // "ES256" or "RS256"
    std::string private_pem;  // never logged
    std::int64_t created_at = 0;
    std::int64_t retired_at = 0;  // 0: active; retired keys stay published until tokens expire
};

// TOTP two-factor of a user (RFC 6238; Better Auth's twoFactor table, hardened).
struct two_factor_record {
    std::string user_id;
    std::string sealed_key;         // seal(server key, raw TOTP key, "totp:" + user_id): sealed.hpp
    bool verified = false;          // a first correct code confirmed the enrolment
    std::int64_t last_step = -1;    // the newest TOTP step accepted: older and equal steps are replays
    std::int64_t failures = 0;      // wrong codes in a row
    std::int64_t locked_until = 0;  // Unix seconds; 0: not locked
    std::int64_t created_at = 0;
};

// A password sign-in waiting for its second factor (kind "sign-in": Better Auth's two_factor
// cookie, used once) or a browser trusted to skip it (kind "trusted-device", 30 days). The
// cookie carries the raw token, the row its hash.
struct two_factor_challenge {
    std::string token_hash;
    std::string user_id;
    std::string kind;      // "sign-in" | "trusted-device"
    bool remember = true;  // the session it becomes keeps Better Auth's rememberMe
    std::int64_t expires_at = 0;
};

// An upstream OpenID Provider users may sign in with ("Sign in with NAME"; issue 14):
// latch-idp is its client. The secret is sealed (sealed.hpp, context "social:" + name).
struct social_provider_record {
    std::string name;  // [a-z0-9_-]{1,32}: the button, /api/auth/callback/NAME
    std::string issuer;
    std::string client_id;
    std::string sealed_secret;  // empty: a public client (PKCE only)
    std::string scope = "openid email profile";
    std::int64_t created_at = 0;
};

// A user's identity at an upstream provider (Better Auth's account table): the pair
// (provider_id, account_id) is unique and names one user.
struct account_record {
    std::string id;
    std::string user_id;
    std::string provider_id;  // the social provider's name
    std::string account_id;   // the upstream `sub`
    std::string issuer;       // the upstream `iss` it was linked under
    std::int64_t created_at = 0;
};

// An organization (the seed's tenant; Better Auth's organization plugin).
struct organization_record {
    std::string id;
    std::string name;
    std::string slug;      // unique
    std::string logo;      // URL or ""
    std::string metadata;  // a JSON object's text, or ""
    std::int64_t created_at = 0;
};

// A user's membership of an organization: role owner | admin | member (organization.hpp).
struct member_record {
    std::string id;
    std::string organization_id;
    std::string user_id;
    std::string role;
    std::int64_t created_at = 0;
    // Read with the member (joined from users), not stored on it.
    std::string user_name, user_email;
};

// An invitation by email, single use: pending -> accepted | rejected | canceled.
struct invitation_record {
    std::string id;  // random; the accept link carries it (only the invitee's session can use it)
    std::string organization_id;
    std::string email;  // canonical (lower case)
    std::string role;
    std::string status = "pending";
    std::string inviter_id;
    std::int64_t expires_at = 0;
    std::int64_t created_at = 0;
    // Read with the invitation (joined), not stored on it.
    std::string organization_name, organization_slug, inviter_email;
};

}  // namespace latchkey::flows::server
