#include <latchkey/flows/server/totp.hpp>

#include <latchkey/core/http.hpp>
#include <latchkey/core/random.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cctype>

namespace latchkey::flows::server {

namespace {

constexpr std::string_view b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// Backup codes: no 0/O, 1/I/L, so a code read aloud or retyped is not mistaken.
constexpr std::string_view backup_alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
constexpr std::size_t backup_length = 10;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

}  // namespace

std::string base32_encode(std::string_view bytes) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 5) {
            out += b32[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += b32[(buffer << (5 - bits)) & 31];
    return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char ch : text) {
        if (ch == '=' || ch == ' ') continue;
        const auto pos = b32.find(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
        if (pos == std::string_view::npos) return std::nullopt;
        buffer = (buffer << 5) | static_cast<std::uint32_t>(pos);
        bits += 5;
        if (bits >= 8) {
            out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return out;
}

std::string hotp(std::string_view key, std::uint64_t counter, int digits) {
    std::array<unsigned char, 8> msg{};
    for (int i = 7; i >= 0; --i, counter >>= 8) msg[static_cast<std::size_t>(i)] = counter & 0xff;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), msg.data(), msg.size(), md, &len);
    const unsigned offset = md[len - 1] & 0x0f;
    const std::uint32_t binary = (std::uint32_t(md[offset] & 0x7f) << 24) | (std::uint32_t(md[offset + 1]) << 16) |
                                 (std::uint32_t(md[offset + 2]) << 8) | std::uint32_t(md[offset + 3]);
    std::uint32_t mod = 1;
    for (int i = 0; i < digits; ++i) mod *= 10;
    std::string code = std::to_string(binary % mod);
    return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

secret make_totp_key() {
    return secret(random_bytes(20));
}

totp_match check_totp(std::string_view key, std::string_view code, std::int64_t now, std::int64_t last_used_step,
                      const totp_params& p) {
    if (code.size() != static_cast<std::size_t>(p.digits)) return {totp_verdict::malformed};
    for (char c : code)
        if (c < '0' || c > '9') return {totp_verdict::malformed};
    const std::int64_t current = floor_div(now, p.period);
    // Every step is compared (no early exit), so the time taken does not tell which matched.
    totp_match found{totp_verdict::wrong};
    for (std::int64_t step = current - p.window; step <= current + p.window; ++step) {
        if (step < 0) continue;
        const bool same = constant_time_equal(hotp(key, static_cast<std::uint64_t>(step), p.digits), code);
        if (same && found.verdict == totp_verdict::wrong)
            found = {step > last_used_step ? totp_verdict::accepted : totp_verdict::replayed, step};
    }
    return found;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view key,
                        const totp_params& p) {
    std::string label = url_encode(issuer) + ":" + url_encode(account);
    return "otpauth://totp/" + label + "?secret=" + base32_encode(key) + "&issuer=" + url_encode(issuer) +
           "&algorithm=SHA1&digits=" + std::to_string(p.digits) + "&period=" + std::to_string(p.period);
}

std::vector<secret> make_backup_codes(std::size_t count) {
    std::vector<secret> out;
    for (std::size_t i = 0; i < count; ++i) {
        const std::string raw = random_bytes(backup_length);
        std::string code;
        for (std::size_t k = 0; k < raw.size(); ++k) {
            if (k == backup_length / 2) code += '-';
            // 256 % 31 != 0: a bias of < 1/8 on some characters; 50 bits of entropy either way.
            code += backup_alphabet[static_cast<unsigned char>(raw[k]) % backup_alphabet.size()];
        }
        out.emplace_back(std::move(code));
    }
    return out;
}

std::optional<std::string> canonical_backup_code(std::string_view typed) {
    std::string out;
    for (char c : typed) {
        if (c == '-' || c == ' ') continue;
        const char up = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (backup_alphabet.find(up) == std::string_view::npos) return std::nullopt;
        out += up;
    }
    if (out.size() != backup_length) return std::nullopt;
    return out;
}

}  // namespace latchkey::flows::server
