#include <latchkey/flows/server/sealed.hpp>

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/random.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

namespace latchkey::flows::server {

namespace {

constexpr std::size_t nonce_size = 12, tag_size = 16;

using ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

}  // namespace

std::string seal(std::string_view key, std::string_view plaintext, std::string_view context) {
    if (key.size() != sealing_key_size) return {};
    std::string out = random_bytes(nonce_size);
    out.resize(nonce_size + plaintext.size() + tag_size);
    ctx_ptr ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int len = 0, fin = 0;
    const bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(out)) == 1 &&
                    EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(context), static_cast<int>(context.size())) == 1 &&
                    EVP_EncryptUpdate(ctx.get(), bytes(out) + nonce_size, &len, bytes(plaintext),
                                      static_cast<int>(plaintext.size())) == 1 &&
                    EVP_EncryptFinal_ex(ctx.get(), bytes(out) + nonce_size + len, &fin) == 1 &&
                    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size,
                                        bytes(out) + nonce_size + plaintext.size()) == 1;
    return ok ? base64url_encode(out) : std::string();
}

std::optional<secret> unseal(std::string_view key, std::string_view sealed, std::string_view context) {
    auto raw = base64url_decode(sealed);
    if (key.size() != sealing_key_size || !raw || raw->size() < nonce_size + tag_size) return std::nullopt;
    const std::size_t n = raw->size() - nonce_size - tag_size;
    std::string plain(n, '\0');
    std::string tag = raw->substr(nonce_size + n);
    ctx_ptr ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int len = 0, fin = 0;
    const bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(*raw)) == 1 &&
                    EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(context), static_cast<int>(context.size())) == 1 &&
                    EVP_DecryptUpdate(ctx.get(), bytes(plain), &len, bytes(*raw) + nonce_size, static_cast<int>(n)) == 1 &&
                    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, bytes(tag)) == 1 &&
                    EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + len, &fin) == 1;
    if (!ok) return std::nullopt;
    return secret(std::move(plain));
}

std::string keyed_hash(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(data), data.size(), md, &len);
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

}  // namespace latchkey::flows::server
