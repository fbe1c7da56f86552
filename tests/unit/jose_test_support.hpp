// Keys and tokens shared by the jose_* unit tests.
#pragma once

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jws_sign.hpp>
#include <latchkey/core/jwt_verify.hpp>
#include <latchkey/core/pkey.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>

#include <chrono>
#include <string>
#include <vector>

// CHECK(r) on a result prints its error instead of trying result's operator<<, which
// does not compile for value types without one.
namespace Catch {
template <class T>
struct StringMaker<boost::system::result<T, boost::system::error_code>> {
    static std::string convert(const boost::system::result<T, boost::system::error_code>& r) {
        return r ? std::string("{value}") : "{error: " + r.error().message() + "}";
    }
};
}  // namespace Catch

namespace jose_test {

using namespace latchkey;
namespace json = boost::json;

// Key generation (RSA especially) is slow-ish: one key of each kind per test binary.
inline EVP_PKEY* shared_key(key_type t) {
    static std::vector<std::pair<key_type, pkey_ptr>> cache;
    for (auto& [type, key] : cache)
        if (type == t) return key.get();
    auto k = generate_key(t);
    REQUIRE(k);
    cache.emplace_back(t, std::move(*k));
    return cache.back().second.get();
}

// A JWKS document as a provider would publish it: our public_jwk exports.
inline std::string jwks_text(const std::vector<std::pair<EVP_PKEY*, std::string>>& keys) {
    json::array arr;
    for (auto& [k, kid] : keys) {
        auto j = public_jwk(k, kid);
        REQUIRE(j);
        arr.push_back(std::move(*j));
    }
    json::object doc;
    doc["keys"] = std::move(arr);
    return json::serialize(doc);
}

// The same, parsed back.
inline jwk_set jwks_of(std::vector<std::pair<EVP_PKEY*, std::string>> keys) {
    diagnostics diag;
    auto set = parse_jwks(jwks_text(keys), diag);
    REQUIRE(set);
    REQUIRE(set->keys.size() == keys.size());
    return std::move(*set);
}

inline std::chrono::system_clock::time_point at(std::int64_t unix_seconds) {
    return std::chrono::system_clock::time_point{std::chrono::seconds{unix_seconds}};
}

constexpr std::int64_t t0 = 1'700'000'000;  // 2023-11-14T22:13:20Z

inline json::object good_claims() {
    json::object c;
    c["iss"] = "https://idp.example";
    c["sub"] = "alice";
    c["aud"] = "latch-cli";
    c["iat"] = t0;
    c["exp"] = t0 + 600;
    c["nonce"] = "n-0S6_WzA2Mj";
    return c;
}

inline id_token_checks good_checks() {
    id_token_checks k;
    k.issuer = "https://idp.example";
    k.client_id = "latch-cli";
    k.nonce = "n-0S6_WzA2Mj";
    k.now = at(t0 + 300);
    return k;
}

inline std::string sign(EVP_PKEY* key, std::string_view kid, const json::object& claims) {
    auto t = sign_jwt(key, kid, claims);
    REQUIRE(t);
    return *t;
}

// Replaces one of the three parts of a compact JWS.
inline std::string with_part(const std::string& token, int index, const std::string& part) {
    auto d1 = token.find('.'), d2 = token.find('.', d1 + 1);
    std::string p[3] = {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1)};
    p[index] = part;
    return p[0] + "." + p[1] + "." + p[2];
}

}  // namespace jose_test
