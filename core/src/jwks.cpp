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
// 64 bits (OpenSSL refuses larger ones for big moduli anyway). Empty when usable, else why
// not (for the message of a token naming the key).
std::string rsa_size_problem(const json::object& o) {
    auto n = decoded(o, "n"), e = decoded(o, "e");
    if (!n || !e) return "an RSA key without a base64url n or e";
    const int bits = bit_length(*n), e_bits = bit_length(*e);
    if (bits < 2048 || bits > max_rsa_bits)
        return "a " + std::to_string(bits) + "-bit RSA key; latch accepts 2048 to " +
               std::to_string(max_rsa_bits) + " bits";
    if (e_bits <= 1 || e_bits > 64) return "an RSA key with an unusable public exponent";
    return {};
}

std::string point_size_problem(const json::object& o, bool with_y) {
    auto x = decoded(o, "x");  // P-256 coordinates, Ed25519 keys: 32 bytes
    auto y = with_y ? decoded(o, "y") : std::optional<std::string>(std::string(32, '\0'));
    if (x && x->size() == 32 && y && y->size() == 32) return {};
    return std::string(with_y ? "a P-256" : "an Ed25519") + " key whose coordinates are not 32 bytes";
}

// The key kind an entry claims, or why it cannot be used (IdP text escaped).
key_kind kind_of_entry(const json::object& o, std::string& why_not) {
    const auto kty = member(o, "kty"), crv = member(o, "crv");
    key_kind kind = key_kind::unsupported;
    if (kty == "RSA") {
        why_not = rsa_size_problem(o);
        kind = key_kind::rsa;
    } else if (kty == "EC" && crv == "P-256") {
        why_not = point_size_problem(o, true);
        kind = key_kind::ec_p256;
    } else if (kty == "OKP" && crv == "Ed25519") {  // RFC 8037 §2
        why_not = point_size_problem(o, false);
        kind = key_kind::ed25519;
    } else {
        why_not = "a key of a type latch does not verify with (kty '" + escape_untrusted(kty, 40) +
                  (crv.empty() ? "" : "', crv '" + escape_untrusted(crv, 40)) + "')";
    }
    return why_not.empty() ? kind : key_kind::unsupported;
}

std::optional<jwk_entry> entry_of(const json::object& o,
                                  const std::shared_ptr<std::atomic<std::size_t>>& built,
                                  std::string& why_not) {
    jwk_entry e;
    e.use = member(o, "use");
    if (!e.use.empty() && e.use != "sig") {  // "enc" keys never verify
        why_not = "not a signing key (use '" + escape_untrusted(e.use, 40) + "')";
        return std::nullopt;
    }
    e.kind = kind_of_entry(o, why_not);
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

const std::string* jwk_set::refusal(std::string_view kid) const noexcept {
    for (const auto& [k, why] : refused)
        if (k == kid) return &why;
    return nullptr;
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
        if (!o) {
            ++set.skipped;
            continue;
        }
        // Past the cap only the kid is read, for the message of a token naming it.
        std::string why_not = "past the first " + std::to_string(max_jwks_keys) +
                              " keys of the JWKS, which latch does not read";
        auto entry = ++seen <= max_jwks_keys ? entry_of(*o, set.built, why_not) : std::nullopt;
        if (entry) {
            set.keys.push_back(std::move(*entry));
            continue;
        }
        ++set.skipped;
        if (auto kid = member(*o, "kid"); !kid.empty())
            set.refused.emplace_back(std::move(kid), std::move(why_not));
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
