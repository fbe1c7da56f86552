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

}  // namespace latchkey
