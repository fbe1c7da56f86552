// Parse-time checks on IdP-supplied values (see untrusted.hpp).
#include <latchkey/core/untrusted.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>

namespace latchkey {
namespace {

bool visible_ascii(unsigned char c) { return c > 0x20 && c < 0x7f; }

// Eight bytes at a time: access tokens are often kilobytes and are checked on every token
// response (a byte loop was ~9,000 instructions per 1.2 KB response, bench/README.md P1).
// A word is clean when no byte is below 0x21 and none above 0x7e (the "has less" / "has
// more" byte tests on 64-bit words).
bool all_visible_ascii(std::string_view s) {
    constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        const std::uint64_t below = (w - ones * 0x21) & ~w & highs;  // a byte < 0x21
        const std::uint64_t above = ((w + ones * (127 - 0x7e)) | w) & highs;  // a byte > 0x7e
        if (below | above) return false;
    }
    for (; i < s.size(); ++i)
        if (!visible_ascii(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// RFC 4648 §5 alphabet, as in a compact JWS.
bool base64url_char(unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; }

}  // namespace

bool is_loopback_host(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (iequals(host, "localhost") || host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
    auto v4 = boost::urls::parse_ipv4_address(host);
    return v4 && v4->to_bytes()[0] == 127;
}

std::string url_problem(std::string_view url) {
    if (url.empty()) return "it is empty";
    if (url.size() > max_idp_url_length)
        return "it is longer than " + std::to_string(max_idp_url_length) + " characters";
    if (!all_visible_ascii(url))
        return "it contains spaces, control characters or non-ASCII bytes";
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) return "it is not an absolute URL";
    const bool https = iequals(u->scheme(), "https"), http = iequals(u->scheme(), "http");
    if (!https && !http) return "its scheme is not https";
    if (!u->has_authority() || u->encoded_host().empty()) return "it names no host";
    if (http && !is_loopback_host(u->encoded_host()))
        return "it is http, not https (http is allowed only on a loopback address)";
    return {};
}

bool valid_user_code(std::string_view code) {
    if (code.empty() || code.size() > max_user_code_length) return false;
    if (code.front() == ' ' || code.back() == ' ') return false;
    return std::all_of(code.begin(), code.end(), [](char c) {
        return c == ' ' || visible_ascii(static_cast<unsigned char>(c));
    });
}

std::string token_problem(std::string_view token, token_kind kind) {
    if (token.empty()) return "it is empty";
    if (kind == token_kind::opaque) {
        if (!all_visible_ascii(token))
            return "it contains spaces, control characters or non-ASCII bytes "
                   "(RFC 6750 allows only visible ASCII)";
        return {};
    }
    for (char c : token)
        if (c != '.' && !base64url_char(static_cast<unsigned char>(c)))
            return "it holds a character outside base64url and '.' (RFC 7515 §7.1)";
    return {};
}

}  // namespace latchkey
