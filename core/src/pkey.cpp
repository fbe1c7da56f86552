#include <latchkey/core/pkey.hpp>

#include "jose_internal.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <climits>

namespace latchkey {
namespace {

struct bio_deleter {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

constexpr int min_rsa_bits = 2048;  // RFC 7518 §3.3

// Refuses to prompt on the terminal for a passphrase (OpenSSL's default callback would).
int no_passphrase(char*, int, int, void*) { return -1; }

error_code key_failure(diagnostics& diag, std::string message) {
    diag.client_message = std::move(message);
    return client_errc::key_error;
}

}  // namespace

void pkey_deleter::operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }

key_kind kind_of(const EVP_PKEY* key) noexcept {
    if (!key) return key_kind::unsupported;
    if (EVP_PKEY_is_a(key, "RSA")) return key_kind::rsa;
    if (EVP_PKEY_is_a(key, "ED25519")) return key_kind::ed25519;
    if (EVP_PKEY_is_a(key, "EC")) {
        char name[64] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) == 1) {
            std::string_view group(name, len);
            if (group == "prime256v1" || group == "P-256") return key_kind::ec_p256;
        }
        detail::take_openssl_error();  // explicit-parameter curves have no name
    }
    return key_kind::unsupported;
}

std::string describe_key(const EVP_PKEY* key) {
    switch (kind_of(key)) {
    case key_kind::rsa: return "RSA";
    case key_kind::ec_p256: return "EC P-256";
    case key_kind::ed25519: return "Ed25519";
    case key_kind::unsupported: break;
    }
    if (!key) return "no key";
    if (EVP_PKEY_is_a(key, "EC")) {
        char name[64] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) == 1)
            return "EC " + std::string(name, len);
        detail::take_openssl_error();
        return "EC (unnamed curve)";
    }
    const char* name = EVP_PKEY_get0_type_name(key);
    return name ? name : "unknown";
}

result<pkey_ptr> generate_key(key_type type) {
    EVP_PKEY* k = nullptr;
    switch (type) {
    case key_type::ec_p256: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case key_type::rsa_2048:
        k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(min_rsa_bits));
        break;
    case key_type::ed25519: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    }
    if (!k) {
        detail::take_openssl_error();
        return client_errc::key_error;
    }
    return pkey_ptr(k);
}

result<secret> private_key_pem(const EVP_PKEY* key) {
    if (!key) return client_errc::key_error;
    // A secure-memory BIO: OpenSSL wipes the buffer holding the PEM when it is freed.
    bio_ptr bio(BIO_new(BIO_s_secmem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        detail::take_openssl_error();
        return client_errc::key_error;
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    if (len <= 0 || !data) return client_errc::key_error;
    return secret{std::string(data, static_cast<std::size_t>(len))};
}

result<pkey_ptr> read_private_key_pem(std::string_view pem, diagnostics& diag) {
    if (pem.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return key_failure(diag, "private key is empty");
    if (pem.find("-----BEGIN") == std::string_view::npos)
        return key_failure(diag, "private key is not PEM (no '-----BEGIN' line)");
    if (pem.find("ENCRYPTED") != std::string_view::npos)
        return key_failure(diag, "private key is encrypted with a passphrase; latch needs it "
                                 "unencrypted (e.g. `openssl pkey -in key.pem -out plain.pem`)");
    if (pem.find("PRIVATE KEY-----") == std::string_view::npos)
        return key_failure(diag, "PEM holds no private key (is it a public key or a certificate?)");
    if (pem.size() > INT_MAX) return key_failure(diag, "private key file is too large");

    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    pkey_ptr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
    if (!key)
        return key_failure(diag, "private key PEM could not be read: " + detail::take_openssl_error());

    auto kind = kind_of(key.get());
    if (kind == key_kind::unsupported)
        return key_failure(diag, "private key type " + describe_key(key.get()) +
                                     " is not supported (use EC P-256, RSA 2048+ or Ed25519)");
    if (kind == key_kind::rsa && EVP_PKEY_get_bits(key.get()) < min_rsa_bits)
        return key_failure(diag, "RSA private key has " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                                     " bits; at least 2048 are required");
    return key;
}

}  // namespace latchkey
