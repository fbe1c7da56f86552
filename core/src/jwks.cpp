// A provider's JWKS (RFC 7517 §5): metadata and member sizes checked when the document is
// parsed, keys built lazily when a token names them (see jwk.hpp).
#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwk.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <mutex>
#include <optional>

namespace latchkey {
namespace json = boost::json;

namespace detail {
struct lazy_jwk {
    json::object members;
    std::shared_ptr<std::atomic<std::size_t>> built;
    std::once_flag once;
    pkey_ptr key;
};
}  // namespace detail

namespace {

std::string member(const json::object& o, std::string_view name) {
    const json::value* v = o.if_contains(name);
    const json::string* s = v ? v->if_string() : nullptr;
    return s ? std::string(*s) : std::string();
}

// Decoded size of a base64url member; nullopt when it is missing or does not decode.
std::optional<std::string> decoded(const json::object& o, std::string_view name) {
    auto text = member(o, name);
    if (text.empty()) return std::nullopt;
    return base64url_decode(text);
}

// The bit length of a big-endian unsigned integer.
int bit_length(std::string_view be) {
    while (!be.empty() && be.front() == '\0') be.remove_prefix(1);
    if (be.empty()) return 0;
    int top = 0;
    for (auto c = static_cast<unsigned char>(be.front()); c; c >>= 1) ++top;
    return static_cast<int>(be.size() - 1) * 8 + top;
}

// RFC 7518 §3.3 (at least 2048 bits) and our upper bound; the public exponent at most
// 64 bits (OpenSSL refuses larger ones for big moduli anyway).
bool rsa_sizes_ok(const json::object& o) {
    auto n = decoded(o, "n"), e = decoded(o, "e");
    if (!n || !e) return false;
    const int bits = bit_length(*n), e_bits = bit_length(*e);
    return bits >= 2048 && bits <= max_rsa_bits && e_bits > 1 && e_bits <= 64;
}

bool point_size_ok(const json::object& o, bool with_y) {
    auto x = decoded(o, "x");
    if (!x || x->size() != 32) return false;  // P-256 coordinates, Ed25519 keys: 32 bytes
    if (!with_y) return true;
    auto y = decoded(o, "y");
    return y && y->size() == 32;
}

// The key kind an entry claims, when its members have the right sizes for it.
key_kind kind_of_entry(const json::object& o) {
    const auto kty = member(o, "kty"), crv = member(o, "crv");
    if (kty == "RSA") return rsa_sizes_ok(o) ? key_kind::rsa : key_kind::unsupported;
    if (kty == "EC" && crv == "P-256")
        return point_size_ok(o, true) ? key_kind::ec_p256 : key_kind::unsupported;
    if (kty == "OKP" && crv == "Ed25519")  // RFC 8037 §2
        return point_size_ok(o, false) ? key_kind::ed25519 : key_kind::unsupported;
    return key_kind::unsupported;
}

std::optional<jwk_entry> entry_of(const json::object& o,
                                  const std::shared_ptr<std::atomic<std::size_t>>& built) {
    jwk_entry e;
    e.use = member(o, "use");
    if (!e.use.empty() && e.use != "sig") return std::nullopt;  // "enc" keys never verify
    e.kind = kind_of_entry(o);
    if (e.kind == key_kind::unsupported) return std::nullopt;
    e.kty = member(o, "kty");
    e.kid = member(o, "kid");
    e.alg = member(o, "alg");
    e.lazy = std::make_shared<detail::lazy_jwk>();
    e.lazy->members = o;
    e.lazy->built = built;
    return e;
}

}  // namespace

const EVP_PKEY* jwk_entry::key() const {
    if (!lazy) return nullptr;
    std::call_once(lazy->once, [this] {
        diagnostics ignored;
        auto k = parse_jwk(lazy->members, ignored);
        ++*lazy->built;
        if (k) lazy->key = std::move(k->key);
        lazy->members = {};  // not needed any more
    });
    return lazy->key.get();
}

std::size_t jwk_set::keys_built() const noexcept { return built ? built->load() : 0; }

result<jwk_set> jwks_from_value(const json::value& doc, diagnostics& diag) {
    const json::object* root = doc.if_object();
    if (!root) {
        diag.client_message = "JWKS is not a JSON object";
        return client_errc::bad_json;
    }
    const json::value* keys = root->if_contains("keys");
    if (!keys || !keys->is_array()) {
        diag.client_message = "JWKS has no \"keys\" array";
        return client_errc::missing_field;
    }
    jwk_set set;
    std::size_t seen = 0;
    for (const json::value& k : keys->get_array()) {
        const json::object* o = k.if_object();
        auto entry = o && ++seen <= max_jwks_keys ? entry_of(*o, set.built) : std::nullopt;
        if (!entry) {
            ++set.skipped;
            continue;
        }
        set.keys.push_back(std::move(*entry));
    }
    return set;
}

result<jwk_set> parse_jwks(std::string_view json_text, diagnostics& diag) {
    if (json_text.size() > max_jwks_size) {
        diag.client_message = "JWKS is larger than " + std::to_string(max_jwks_size / 1024) +
                              " KiB; refusing to read it";
        return client_errc::response_too_large;
    }
    error_code ec;
    json::value doc = json::parse(json_text, ec);
    if (ec) {
        diag.client_message = "JWKS is not valid JSON";
        return client_errc::bad_json;
    }
    return jwks_from_value(doc, diag);
}

}  // namespace latchkey
