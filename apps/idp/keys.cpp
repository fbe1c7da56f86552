// latch-idp's signing keys: an ES256 key generated at first start and kept in the database
// (inside the 0700 data directory, file mode 0600). `keys rotate` adds a newer key, which
// signs from the next start on; an older key stays in the JWKS until every token it signed
// has expired (its successor's age >= the longest token lifetime), then drops out.
#include "idp.hpp"

#include <latchkey/core/jwk.hpp>

#include <boost/json/array.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace latchkey::idp {

namespace {

result<flows::server::signing_key_record> new_es256_key(diagnostics& diag) {
    auto key = generate_key(key_type::ec_p256);
    if (!key) return key.error();
    auto kid = jwk_thumbprint(key->get());
    auto pem = private_key_pem(key->get());
    if (!kid || !pem) {
        diag.client_message = "cannot export the new signing key";
        return make_error_code(client_errc::key_error);
    }
    return flows::server::signing_key_record{*kid, "ES256", pem->reveal(), unix_now(), 0};
}

}  // namespace

boost::asio::awaitable<result<signing_keys>> load_or_create_keys(ts::store& st, diagnostics& diag,
                                                                 std::int64_t publish_for) {
    auto stored = co_await st.list_signing_keys();
    if (!stored) co_return stored.error();
    if (stored->empty()) {
        auto k = new_es256_key(diag);
        if (!k) co_return k.error();
        if (auto ec = co_await st.put_signing_key(*k)) co_return ec;
        stored->push_back(std::move(*k));
    }
    signing_keys out;
    boost::json::array keys;
    const auto now = unix_now();
    std::int64_t successor_created = 0;  // of the next newer key; 0 for the newest
    for (const auto& rec : *stored) {  // newest first
        const bool expired = successor_created != 0 && now >= successor_created + publish_for;
        successor_created = rec.created_at;
        if (expired && out.active) continue;  // everything it signed has expired
        auto key = read_private_key_pem(rec.private_pem, diag);
        if (!key) co_return key.error();
        auto pub = public_jwk(key->get(), rec.kid);
        if (!pub) co_return pub.error();
        keys.push_back(std::move(*pub));
        if (!out.active && rec.retired_at == 0) {
            out.active = std::move(*key);
            out.active_kid = rec.kid;
        }
    }
    if (!out.active) {
        diag.client_message = "no active signing key in the database";
        co_return make_error_code(client_errc::key_error);
    }
    out.jwks["keys"] = std::move(keys);
    co_return out;
}

int keys_rotate(const std::string& data) {
    diagnostics diag;
    auto st = open_data_dir(data, diag);
    if (!st) return fail("latch-idp: " + diag.client_message);
    auto stored = await_sync((*st)->list_signing_keys());
    if (!stored) return fail("latch-idp: cannot read the signing keys: " + stored.error().message());
    auto k = new_es256_key(diag);
    if (!k) return fail("latch-idp: " + diag.client_message);
    // Strictly newer than the newest, so "newest first" orders by creation.
    if (!stored->empty()) k->created_at = std::max(k->created_at, stored->front().created_at + 1);
    if (auto ec = await_sync((*st)->put_signing_key(*k))) return fail("latch-idp: cannot store the new key: " + ec.message());
    std::cout << k->kid << std::endl;
    std::fprintf(stderr, "latch-idp: new signing key %s; it signs after the next start, and the old key stays "
                         "published until its tokens have expired\n", k->kid.c_str());
    return 0;
}

}  // namespace latchkey::idp
