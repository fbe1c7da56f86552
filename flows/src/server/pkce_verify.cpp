#include <latchkey/flows/server/pkce_verify.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <latchkey/core/pkce.hpp>

namespace latchkey::flows::server {
namespace {

// RFC 7636 §4.1: 43..128 characters from the unreserved set.
bool pkce_syntax(std::string_view s) {
    if (s.size() < 43 || s.size() > 128) return false;
    for (char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '.' || c == '_' || c == '~';
        if (!ok) return false;
    }
    return true;
}

error_code fail(oauth_errc e, diagnostics& diag, const char* msg) {
    diag.client_message = msg;
    return make_error_code(e);
}

}  // namespace

error_code check_pkce_request(std::string_view challenge, std::string_view method,
                              bool public_client, diagnostics& diag) {
    if (challenge.empty()) {
        if (!method.empty()) return fail(oauth_errc::invalid_request, diag, "code_challenge_method without code_challenge");
        if (public_client) return fail(oauth_errc::invalid_request, diag, "PKCE (code_challenge, S256) is required for public clients");
        return {};
    }
    if (method != "S256")
        return fail(oauth_errc::invalid_request, diag, "code_challenge_method must be S256");
    if (!pkce_syntax(challenge)) return fail(oauth_errc::invalid_request, diag, "code_challenge is malformed");
    return {};
}

error_code verify_pkce(std::string_view stored_challenge, std::string_view verifier,
                       diagnostics& diag) {
    if (stored_challenge.empty()) {
        if (!verifier.empty())
            return fail(oauth_errc::invalid_grant, diag, "code_verifier sent for a code issued without code_challenge");
        return {};
    }
    if (verifier.empty()) return fail(oauth_errc::invalid_grant, diag, "code_verifier is required");
    if (!pkce_syntax(verifier)) return fail(oauth_errc::invalid_grant, diag, "code_verifier is malformed");
    if (!constant_time_equal(pkce_challenge(verifier), stored_challenge))
        return fail(oauth_errc::invalid_grant, diag, "code_verifier does not match code_challenge");
    return {};
}

}  // namespace latchkey::flows::server
