// Device-flow user codes (RFC 8628 §6.1): short enough to type, long enough that guessing
// within the server's limits fails.
//
// The alphabet is base-20 consonants (no vowels: no words; no look-alike digits), as
// RFC 8628 §6.1 suggests. The length is not a constant: it is derived from the limits the
// server enforces, so that an attacker who spends the whole global guess budget G during a
// code's lifetime, against P codes pending at once, hits one with probability
//     G · P / 20^L  <=  2^-32.
// The server checks this at start-up (user_code_length) and refuses limits it cannot meet.
#pragma once

#include <latchkey/core/error.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace latchkey::flows::server {

inline constexpr std::string_view user_code_alphabet = "BCDFGHJKLMNPQRSTVWXZ";

struct user_code_limits {
    // Wrong user codes accepted per minute across all clients (the global limit; per-IP
    // limits are lower and do not change the bound).
    std::uint64_t max_attempts_per_minute = 60;
    // How long a device code and its user code stay valid (RFC 8628 `expires_in`).
    std::chrono::seconds code_lifetime{600};
    // Device authorizations allowed to be pending at once.
    std::uint64_t max_pending_codes = 1000;
};

// Guesses the limits allow during one code lifetime: attempts/minute × lifetime in minutes
// (rounded up).
std::uint64_t guess_budget(const user_code_limits& limits) noexcept;

// log2 of the probability that one budget of guesses hits some pending code of `length`
// characters: log2(G · P) - length · log2(20).
double log2_guess_probability(const user_code_limits& limits, std::size_t length) noexcept;

// The shortest length with probability <= 2^-32. Errors: server_errc::bad_config when a
// limit is zero or the length would exceed 32 characters (no one types that).
result<std::size_t> user_code_length(const user_code_limits& limits);

// A fresh code of `length` characters, uniform over the alphabet (rejection sampling over
// OpenSSL's CSPRNG), without separators: the canonical form that is stored.
std::string make_user_code(std::size_t length);

// For display: groups of 4 joined by '-' ("BCDF-GHJK-LM").
std::string format_user_code(std::string_view canonical);

// What the user typed, in canonical form: upper-cased, separators and spaces dropped
// (§6.1: "ignore any characters like punctuation"). Empty when a character outside the
// alphabet remains (then it cannot match, and is not worth a database look-up).
std::string normalize_user_code(std::string_view typed);

}  // namespace latchkey::flows::server
