// application/x-www-form-urlencoded request bodies (HTML 4.01 §17.13.4, as RFC 6749
// Appendix B uses it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey::flows::server {

// '+' -> space, %XX -> byte. nullopt for a malformed escape.
std::optional<std::string> form_decode(std::string_view s);

class form {
public:
    // nullopt when an escape is malformed or a parameter appears twice (RFC 6749 §3.1, §3.2:
    // "Request and response parameters MUST NOT be included more than once").
    static std::optional<form> parse(std::string_view body);

    // The value, or nullopt when absent. An empty value counts as absent (RFC 6749 §3.1).
    std::optional<std::string_view> get(std::string_view name) const;
    std::string_view value_or_empty(std::string_view name) const;

private:
    std::vector<std::pair<std::string, std::string>> params_;
};

}  // namespace latchkey::flows::server
