// `latch login --with-token`: the pieces of importing a token obtained elsewhere (seed 000)
// that need no I/O.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/core/untrusted.hpp>  // token_problem: an imported token is checked too

#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

// Seed 000: an imported token is kept for 30 days unless told otherwise.
inline constexpr seconds default_import_lifetime{30L * 24 * 3600};
// The identity stored when the lookup service cannot say whose token it is.
inline constexpr const char* placeholder_subject = "ci-user";
// config.json key (context_config::extra) of the context's identity lookup URL.
inline constexpr const char* lookup_url_key = "lookup_url";

// The token without surrounding whitespace (a pasted or piped token ends in a newline).
std::string trim_token(std::string_view s);

enum class expiry_source { expires_in, jwt_exp, lookup, default_lifetime };
struct import_expiry {
    time_point at;
    expiry_source from;
};

// --expires-in when given; else the `exp` of a JWT (unverified: we only learn when the
// token stops working, and trust nothing else in it); else now + 30 days.
import_expiry imported_token_expiry(std::string_view token, std::optional<seconds> expires_in,
                                    time_point now);

// Seed 000: what a lookup answer may say besides the OIDC claims; string values are kept in
// identity::attributes and shown by `latch status`.
// Also taken from a login's ID token (and userinfo): the platform role and the active
// organization a latch-idp token carries (org_id, org_role, org_slug; issue 14).
inline constexpr const char* lookup_attribute_names[] = {"platformId", "role", "org_id", "org_role", "org_slug"};

// Claims (sub, email, name, preferred_username) from a userinfo-style JSON object, and the
// lookup_attribute_names it has.
//   client_errc::bad_json       not a JSON object
//   client_errc::missing_field  none of the four claims
result<identity> identity_from_json(std::string_view body, diagnostics& diag);

// Seed 000: the session's end a lookup answer gives as "expiresAt" (ISO 8601 UTC); nullopt
// when absent or unreadable.
std::optional<time_point> lookup_expiry(std::string_view body);

// The sub, email, name and preferred_username claims of a JWT, NOT verified: only to name
// the owner of an imported token no lookup could name (nullopt: not a JWT, or none of
// the four claims).
std::optional<identity> identity_from_jwt_unverified(std::string_view token);

}  // namespace latchkey
