#include <latchkey/core/error.hpp>

#include <algorithm>
#include <array>
#include <cstdio>

namespace latchkey {
namespace {

struct oauth_name { oauth_errc code; const char* name; };
constexpr std::array<oauth_name, 24> oauth_names{{
    {oauth_errc::invalid_request, "invalid_request"},
    {oauth_errc::invalid_client, "invalid_client"},
    {oauth_errc::invalid_grant, "invalid_grant"},
    {oauth_errc::unauthorized_client, "unauthorized_client"},
    {oauth_errc::unsupported_grant_type, "unsupported_grant_type"},
    {oauth_errc::invalid_scope, "invalid_scope"},
    {oauth_errc::access_denied, "access_denied"},
    {oauth_errc::unsupported_response_type, "unsupported_response_type"},
    {oauth_errc::server_error, "server_error"},
    {oauth_errc::temporarily_unavailable, "temporarily_unavailable"},
    {oauth_errc::authorization_pending, "authorization_pending"},
    {oauth_errc::slow_down, "slow_down"},
    {oauth_errc::expired_token, "expired_token"},
    {oauth_errc::unsupported_token_type, "unsupported_token_type"},
    {oauth_errc::invalid_target, "invalid_target"},
    {oauth_errc::invalid_token, "invalid_token"},
    {oauth_errc::insufficient_scope, "insufficient_scope"},
    {oauth_errc::login_required, "login_required"},
    {oauth_errc::consent_required, "consent_required"},
    {oauth_errc::interaction_required, "interaction_required"},
    {oauth_errc::invalid_redirect_uri, "invalid_redirect_uri"},
    {oauth_errc::invalid_client_metadata, "invalid_client_metadata"},
    {oauth_errc::invalid_dpop_proof, "invalid_dpop_proof"},
    {oauth_errc::use_dpop_nonce, "use_dpop_nonce"},
}};

class oauth_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "latchkey.oauth"; }
    std::string message(int ev) const override {
        for (const auto& n : oauth_names)
            if (static_cast<int>(n.code) == ev) return n.name;
        return "unknown_oauth_error";
    }
};

class client_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "latchkey.client"; }
    std::string message(int ev) const override {
        switch (static_cast<client_errc>(ev)) {
        case client_errc::timeout: return "timed out";
        case client_errc::cancelled: return "cancelled";
        case client_errc::bad_json: return "malformed JSON response";
        case client_errc::missing_field: return "response lacks a required field";
        case client_errc::bad_http_status: return "unexpected HTTP status";
        case client_errc::response_too_large: return "response too large";
        case client_errc::connection_failed: return "connection failed";
        case client_errc::tls_verify_failed: return "TLS verification failed";
        case client_errc::insecure_url: return "insecure URL";
        case client_errc::bad_url: return "bad URL";
        case client_errc::flow_finished: return "flow already finished";
        case client_errc::state_mismatch: return "state mismatch";
        case client_errc::issuer_mismatch: return "issuer mismatch";
        case client_errc::nonce_mismatch: return "nonce mismatch";
        case client_errc::id_token_invalid: return "ID token invalid";
        case client_errc::not_logged_in: return "not logged in";
        case client_errc::session_expired: return "session expired";
        case client_errc::store_corrupt: return "credential store corrupt";
        case client_errc::store_io: return "credential store I/O error";
        case client_errc::lock_timeout: return "lock wait timed out";
        case client_errc::endpoint_missing: return "endpoint not advertised";
        case client_errc::config_missing: return "configuration missing";
        case client_errc::bad_input: return "bad input";
        case client_errc::key_error: return "key error";
        case client_errc::browser_failed: return "browser launch failed";
        case client_errc::port_in_use: return "port in use";
        }
        return "unknown latchkey error";
    }
};

}  // namespace

const boost::system::error_category& oauth_category() noexcept {
    static const oauth_category_impl c;
    return c;
}
const boost::system::error_category& client_category() noexcept {
    static const client_category_impl c;
    return c;
}

oauth_errc oauth_errc_from_string(std::string_view s) noexcept {
    for (const auto& n : oauth_names)
        if (s == n.name) return n.code;
    return oauth_errc::unknown_oauth_error;
}

std::string escape_untrusted(std::string_view s, std::size_t max_len) {
    std::string out;
    out.reserve(std::min(s.size(), max_len) + 8);
    for (unsigned char c : s) {
        if (out.size() >= max_len) {
            out += "...";
            break;
        }
        if (c == '\\' || c == '"') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` whose code point is safe
// to print (not C1, not a bidi override or isolate), else 0.
std::size_t printable_utf8(std::string_view s) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    std::size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len == 0 || s.size() < len) return 0;
    char32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (std::size_t i = 1; i < len; ++i) {
        if ((b(i) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b(i) & 0x3f);
    }
    const char32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    if (cp < 0xa0) return 0;                                     // C1 controls
    if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
        cp == 0x2029)
        return 0;  // bidi overrides/isolates and line separators reorder or break the line
    return len;
}

}  // namespace

std::string escape_terminal(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
            ++i;
        } else if (std::size_t n = c >= 0x80 ? printable_utf8(s.substr(i)) : 0; n > 0) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
            ++i;
        }
    }
    return out;
}

std::string describe(const error_code& ec, const diagnostics& diag) {
    std::string d = diag.to_string();
    if (d.empty()) return ec.message();
    if (ec.category() == oauth_category() && diag.client_message.empty())
        return ec.message() + ": " + d;
    return d;
}

std::string diagnostics::to_string() const {
    std::string out = client_message;
    if (!server_error.empty()) {
        if (!out.empty()) out += ": ";
        out += "server error \"" + escape_untrusted(server_error, 80) + "\"";
    }
    if (!server_message.empty()) {
        if (!out.empty()) out += ": ";
        out += "\"" + escape_untrusted(server_message) + "\"";
    }
    return out;
}

bool needs_login(const error_code& ec) noexcept {
    return ec == client_errc::not_logged_in || ec == client_errc::session_expired ||
           ec == oauth_errc::invalid_grant || ec == oauth_errc::invalid_token;
}

}  // namespace latchkey
