#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/user_code.hpp>

#include <openssl/rand.h>

#include <cmath>
#include <stdexcept>

namespace latchkey::flows::server {

std::uint64_t guess_budget(const user_code_limits& limits) noexcept {
    const auto secs = static_cast<std::uint64_t>(limits.code_lifetime.count());
    const std::uint64_t minutes = (secs + 59) / 60;
    return limits.max_attempts_per_minute * minutes;
}

double log2_guess_probability(const user_code_limits& limits, std::size_t length) noexcept {
    const double g = static_cast<double>(guess_budget(limits));
    const double p = static_cast<double>(limits.max_pending_codes);
    return std::log2(g) + std::log2(p) - static_cast<double>(length) * std::log2(20.0);
}

result<std::size_t> user_code_length(const user_code_limits& limits) {
    if (limits.max_attempts_per_minute == 0 || limits.code_lifetime.count() <= 0 ||
        limits.max_pending_codes == 0)
        return make_error_code(server_errc::bad_config);
    for (std::size_t len = 4; len <= 32; ++len)
        if (log2_guess_probability(limits, len) <= -32.0) return len;
    return make_error_code(server_errc::bad_config);
}

std::string make_user_code(std::size_t length) {
    std::string out;
    out.reserve(length);
    unsigned char buf[64];
    while (out.size() < length) {
        if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("RAND_bytes failed");
        for (unsigned char b : buf) {
            // 240 = 12 × 20: bytes at or above it would bias the first 16 letters.
            if (b >= 240) continue;
            out.push_back(user_code_alphabet[b % 20]);
            if (out.size() == length) break;
        }
    }
    return out;
}

std::string format_user_code(std::string_view canonical) {
    std::string out;
    for (std::size_t i = 0; i < canonical.size(); ++i) {
        if (i > 0 && i % 4 == 0) out.push_back('-');
        out.push_back(canonical[i]);
    }
    return out;
}

std::string normalize_user_code(std::string_view typed) {
    std::string out;
    for (char c : typed) {
        if (c == '-' || c == ' ' || c == '.' || c == '_' || c == '\t') continue;
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (user_code_alphabet.find(c) == std::string_view::npos) return {};
        out.push_back(c);
        if (out.size() > 64) return {};
    }
    return out;
}

}  // namespace latchkey::flows::server
