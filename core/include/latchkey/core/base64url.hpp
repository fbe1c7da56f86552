// base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

std::string base64url_encode(std::string_view bytes);
// Rejects characters outside the alphabet and impossible lengths; padding is tolerated.
std::optional<std::string> base64url_decode(std::string_view text);

// Standard base64 with padding (RFC 4648 §4), e.g. for HTTP Basic authentication.
std::string base64_encode(std::string_view bytes);

}  // namespace latchkey
