// latch-idp's signing keys: an ES256 key generated at first start and kept in the database
// (inside the 0700 data directory, file mode 0600); JWKS with every key still published.
#include "idp.hpp"

#include <latchkey/core/jwk.hpp>

#include <boost/json/array.hpp>

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

boost::asio::awaitable<result<signing_keys>> load_or_create_keys(ts::store& st, diagnostics& diag) {
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
    for (const auto& rec : *stored) {  // newest first
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

}  // namespace latchkey::idp
