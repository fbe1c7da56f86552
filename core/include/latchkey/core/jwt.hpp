// Reading compact JWTs (RFC 7519). Verification against JWKS lives in jwt_verify.hpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

// The decoded payload JSON text of a compact JWS, without any verification. Only for
// display and for choosing what to verify; never for trusting claims.
std::optional<std::string> jwt_payload_unverified(std::string_view token);
// The decoded header JSON text.
std::optional<std::string> jwt_header_unverified(std::string_view token);

}  // namespace latchkey
