#include <latchkey/core/secret.hpp>

#include <ostream>

namespace latchkey {

std::string redact(std::string_view s) {
    // Six leading and four trailing characters identify a token without revealing it
    // (seed 001 prints `69dd6f...2bc6`). Values too short to hide anything show nothing.
    if (s.size() < 16) return s.empty() ? std::string{} : std::string{"…"};
    std::string out{s.substr(0, 6)};
    out += "…";
    out += s.substr(s.size() - 4);
    return out;
}

std::ostream& operator<<(std::ostream& os, const secret& s) { return os << s.redacted(); }

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    std::size_t n = a.size() < b.size() ? a.size() : b.size();
    for (std::size_t i = 0; i < n; ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace latchkey
