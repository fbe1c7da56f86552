// Consent (OIDC Core §3.1.2.4) and RP-initiated logout (OpenID Connect RP-Initiated Logout
// 1.0) decisions of latch-idp. Pure: the handlers look records up and act on the answers.
#pragma once

#include <latchkey/flows/server/records.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::flows::server {

// Every scope of `requested` is in `granted` (space-separated lists).
bool scopes_covered(std::string_view granted, std::string_view requested);
// `granted` plus the scopes of `requested` it lacks, in first-seen order.
std::string scope_union(std::string_view granted, std::string_view requested);
// Is `word` one of the space-separated values of `list` (e.g. prompt=login consent)?
bool has_word(std::string_view list, std::string_view word);

// Must the user be asked? Never for a client registered --skip-consent (trusted first
// party); always with prompt=consent; otherwise unless an earlier consent (`granted`, the
// stored scopes of this user and client; nullopt: none) covers the requested scope.
bool needs_consent(const client_record& client, const std::optional<std::string>& granted,
                   std::string_view requested, std::string_view prompt);

// What a scope lets the client do, as the consent page lists it (plain text).
std::string describe_scope(std::string_view scope);
// The requested scopes, one description each, duplicates dropped.
std::vector<std::string> describe_scopes(std::string_view scope);

// RP-Initiated Logout §3: a post_logout_redirect_uri is followed only when it is one the
// client registered, compared exactly (no loopback port exception: nothing returns there).
bool post_logout_uri_registered(const client_record& client, std::string_view uri);

// One request to the end_session_endpoint, as the handler found it.
struct logout_request {
    bool hint_present = false;   // id_token_hint sent
    bool hint_valid = false;     // ... and it is an ID token we signed (expired ones count)
    std::string hint_sub, hint_aud;
    std::string client_id;       // the client_id parameter (may be empty)
    std::string redirect_uri;    // post_logout_redirect_uri (may be empty)
    const client_record* client = nullptr;  // the client named by aud or client_id; nullptr: none / unknown
    std::string session_user;    // the signed-in user's id; empty: no session
    bool confirmed = false;      // the user pressed "Sign out" on our confirmation page
};
enum class logout_action {
    refuse,    // our error page, never a redirect (`message` says why)
    confirm,   // ask the user first (logout CSRF: no valid hint for this session's user)
    sign_out,  // end the session; then redirect to redirect_uri when set, else our page
};
struct logout_decision {
    logout_action action = logout_action::refuse;
    std::string message;
};
// RP-Initiated Logout 1.0 §2-§3: an invalid hint or a client_id that is not its audience is
// refused; a post_logout_redirect_uri needs an identified client that registered it; without
// a valid hint for the signed-in user (or no one signed in), the user confirms.
logout_decision decide_logout(const logout_request& r);

}  // namespace latchkey::flows::server
