// latch-idp's signing keys: an ES256 (or --signing-alg RS256) key generated at first start and kept in the database
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

result<flows::server::signing_key_record> new_signing_key(const std::string& alg, diagnostics& diag) {
    auto key = generate_key(alg == "RS256" ? key_type::rsa_2048 : key_type::ec_p256);
    if (!key) return key.error();
    auto kid = jwk_thumbprint(key->get());
    auto pem = private_key_pem(key->get());
    if (!kid || !pem) {
        diag.client_message = "cannot export the new signing key";
        return make_error_code(client_errc::key_error);
    }
    return flows::server::signing_key_record{*kid, alg, pem->reveal(), unix_now(), 0};
}

// The index of the key that signs: the newest active one of `alg` (any alg when empty).
std::optional<std::size_t> pick_active(const std::vector<flows::server::signing_key_record>& keys,
                                       const std::string& alg) {
    for (std::size_t i = 0; i < keys.size(); ++i)
        if (keys[i].retired_at == 0 && (alg.empty() || keys[i].alg == alg)) return i;
    return std::nullopt;
}

}  // namespace

bool known_signing_alg(const std::string& alg) { return alg == "ES256" || alg == "RS256"; }

boost::asio::awaitable<result<signing_keys>> load_or_create_keys(ts::store& st, diagnostics& diag,
                                                                 std::int64_t publish_for, std::string alg) {
    auto stored = co_await st.list_signing_keys();
    if (!stored) co_return stored.error();
    auto active = pick_active(*stored, alg);
    if (!active) {  // first start, or the first start with this --signing-alg
        auto k = new_signing_key(alg.empty() ? "ES256" : alg, diag);
        if (!k) co_return k.error();
        if (!stored->empty()) k->created_at = std::max(k->created_at, stored->front().created_at + 1);
        if (auto ec = co_await st.put_signing_key(*k)) co_return ec;
        stored->insert(stored->begin(), std::move(*k));
        active = 0;
    }
    signing_keys out;
    boost::json::array keys;
    const auto now = unix_now();
    std::int64_t successor_created = 0;  // of the next newer key; 0 for the newest
    for (std::size_t i = 0; i < stored->size(); ++i) {  // newest first
        const auto& rec = (*stored)[i];
        const bool expired = successor_created != 0 && now >= successor_created + publish_for;
        successor_created = rec.created_at;
        if (expired && i != *active) continue;  // everything it signed has expired
        auto key = read_private_key_pem(rec.private_pem, diag);
        if (!key) co_return key.error();
        auto pub = public_jwk(key->get(), rec.kid);
        if (!pub) co_return pub.error();
        keys.push_back(std::move(*pub));
        if (i == *active) {
            out.active = std::move(*key);
            out.active_kid = rec.kid;
            out.active_alg = rec.alg;
        }
        if (std::find(out.algs.begin(), out.algs.end(), rec.alg) == out.algs.end()) out.algs.push_back(rec.alg);
    }
    // The signing alg first: clients without a configured alg take the first.
    std::stable_partition(out.algs.begin(), out.algs.end(), [&](const std::string& a) { return a == out.active_alg; });
    out.jwks["keys"] = std::move(keys);
    co_return out;
}

int keys_rotate(const store_location& at, const std::string& alg, const std::string& audit_file) {
    if (!known_signing_alg(alg)) return fail("latch-idp: --alg wants ES256 or RS256");
    diagnostics diag;
    audit_log audit;
    if (!audit_file.empty() && audit.open(audit_file, diag)) return fail("latch-idp: " + diag.client_message);
    auto st = open_store(at, diag);
    if (!st) return fail("latch-idp: " + diag.client_message);
    auto stored = await_sync((*st)->list_signing_keys());
    if (!stored) return fail("latch-idp: cannot read the signing keys: " + stored.error().message());
    auto k = new_signing_key(alg, diag);
    if (!k) return fail("latch-idp: " + diag.client_message);
    // Strictly newer than the newest, so "newest first" orders by creation.
    if (!stored->empty()) k->created_at = std::max(k->created_at, stored->front().created_at + 1);
    if (auto ec = await_sync((*st)->put_signing_key(*k))) return fail("latch-idp: cannot store the new key: " + ec.message());
    flows::server::audit_event e;
    e.time = unix_now();
    e.event = "key_rotate";
    e.outcome = "success";
    e.method = alg;
    e.key_id = k->kid;
    if (!audit.write(e)) std::fprintf(stderr, "latch-idp: warning: the audit line could not be written\n");
    std::cout << k->kid << std::endl;
    std::fprintf(stderr, "latch-idp: new %s signing key %s; it signs after the next start, and the old key stays "
                         "published until its tokens have expired\n", alg.c_str(), k->kid.c_str());
    return 0;
}

}  // namespace latchkey::idp
