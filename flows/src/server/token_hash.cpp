#include <latchkey/flows/server/token_hash.hpp>

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/random.hpp>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace latchkey::flows::server {

secret make_opaque_token() {
    return secret(random_urlsafe(32));
}

std::string hash_token(std::string_view raw) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(raw.data()), raw.size(), md);
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

bool token_matches_hash(std::string_view presented, std::string_view stored_hash) {
    return constant_time_equal(hash_token(presented), stored_hash);
}

}  // namespace latchkey::flows::server
