// A string whose formatting never shows the whole value (STYLE.md "Secrets").
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

namespace latchkey {

// `69dd6f8a7621ca3cd1e8924460842bc6` -> `69dd6f…2bc6`; short values show no characters.
std::string redact(std::string_view s);

class secret {
public:
    secret() = default;
    explicit secret(std::string v) : value_(std::move(v)) {}

    // The only way to the whole value; grep for it when reviewing.
    const std::string& reveal() const noexcept { return value_; }
    std::string redacted() const { return redact(value_); }
    bool empty() const noexcept { return value_.empty(); }

    friend bool operator==(const secret&, const secret&) = default;

private:
    std::string value_;
};

std::ostream& operator<<(std::ostream& os, const secret& s);  // prints redacted()

// Compares without an early exit on the first differing byte (an OAuth `state`, a
// cookie): the time taken does not tell an attacker how much of a guess was right.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace latchkey
