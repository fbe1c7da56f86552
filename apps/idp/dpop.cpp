// DPoP (RFC 9449) on latch-idp: the token endpoint's proof with a server nonce as the
// challenge (§8), and the resource side (userinfo, registration) where a bound token needs
// the DPoP scheme and a proof carrying its hash (§7). The checks are flows/server/dpop.hpp;
// here the request's headers, the clock, and the jti cache (store.remember_jti, shared by
// every replica through the database, keyed apart from client assertions by "dpop:").
#include "idp.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

constexpr std::string_view algs = "algs=\"ES256 RS256\"";

// The request's DPoP header: none, one, or more than one (refused, §4.3 check 1).
std::optional<std::string> dpop_header(const ts::server_request& req, bool& several) {
    std::optional<std::string> out;
    several = false;
    const auto is_dpop = [](const std::string& k) {
        if (k.size() != 4) return false;
        std::string low = k;
        for (char& c : low) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        return low == "dpop";
    };
    for (const auto& [k, v] : req.headers) {
        if (!is_dpop(k)) continue;
        if (out) several = true;
        out = v;
    }
    return out;
}

// §7.1: a resource's refusal, with the scheme the token asks for.
http_response resource_refusal(std::string_view error, std::string_view description, bool dpop) {
    auto r = json_response(401, json::serialize(json::object{{"error", error}, {"error_description", description}}));
    const std::string scheme = dpop ? "DPoP error=\"" + std::string(error) + "\", " + std::string(algs)
                                    : "Bearer error=\"" + std::string(error) + "\"";
    r.headers.emplace_back("WWW-Authenticate", scheme);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

// Records the proof's jti; nullopt when it is new, else the answer (a replay, storage trouble).
boost::asio::awaitable<std::optional<error_code>> remember_proof(idp_state& st, const fs::verified_dpop& p,
                                                                 std::int64_t now) {
    std::string key = fs::hash_token("dpop:" + p.jkt + ":" + p.jti);
    auto fresh = co_await st.store.remember_jti(std::move(key), p.remember_until, now);
    if (!fresh) co_return fresh.error();
    if (!*fresh) co_return make_error_code(oauth_errc::invalid_dpop_proof);
    co_return std::nullopt;
}

}  // namespace

void add_dpop_nonce(const idp_state& st, http_response& r) {
    r.headers.emplace_back("DPoP-Nonce", fs::make_dpop_nonce(st.dpop_nonce_key, unix_now()));
}

boost::asio::awaitable<dpop_checked> token_request_dpop(idp_state& st, const ts::server_request& req) {
    bool several = false;
    const auto header = dpop_header(req, several);
    if (!header) co_return dpop_checked{};
    if (several) co_return dpop_checked{{}, oauth_error(oauth_errc::invalid_dpop_proof, "more than one DPoP header")};
    const auto now = unix_now();
    const std::string htu = st.config.issuer + "/oauth2/token";
    diagnostics diag;
    auto proof = fs::verify_dpop_proof(*header, {"POST", htu, now, {}}, diag);
    if (!proof) co_return dpop_checked{{}, oauth_error(proof.error(), diag.client_message)};
    if (!fs::dpop_nonce_valid(st.dpop_nonce_key, proof->nonce, now)) {
        // §8: the challenge. The client retries once with this nonce in a new proof.
        auto r = oauth_error(oauth_errc::use_dpop_nonce, "the DPoP proof needs a current nonce from this server");
        add_dpop_nonce(st, r);
        co_return dpop_checked{{}, std::move(r)};
    }
    auto replay = co_await remember_proof(st, *proof, now);
    if (replay && *replay == oauth_errc::invalid_dpop_proof)
        co_return dpop_checked{{}, oauth_error(*replay, "the DPoP proof was already used (jti)")};
    if (replay) co_return dpop_checked{{}, storage_error(*replay)};
    co_return dpop_checked{std::move(*proof), {}};
}

boost::asio::awaitable<resource_access> resource_access_token(idp_state& st, const ts::server_request& req) {
    const auto refused = [](http_response r) { return resource_access{{}, false, std::move(r)}; };
    auto presented = fs::parse_resource_authorization(req.header("Authorization"));
    if (!presented) co_return resource_access{{}, true, {}};
    std::string token = presented->token;  // named: GCC 12 and temporaries in co_await
    auto live = co_await live_access_token(st, std::move(token));
    if (!live) co_return refused(storage_error(live.error()));
    if (!*live)
        co_return refused(resource_refusal("invalid_token", "the access token is invalid or expired", presented->dpop));
    std::string jkt;
    if (const auto* cnf = (*live)->if_contains("cnf"); cnf && cnf->is_object())
        if (const auto* j = cnf->as_object().if_contains("jkt"); j && j->is_string()) jkt = j->as_string();
    bool several = false;
    const auto header = dpop_header(req, several);
    if (several) co_return refused(resource_refusal("invalid_dpop_proof", "more than one DPoP header", true));
    const auto now = unix_now();
    diagnostics diag;
    std::optional<fs::verified_dpop> proof;
    if (header && presented->dpop) {
        const std::string htu = st.config.issuer + std::string(req.path());
        auto checked = fs::verify_dpop_proof(*header, {req.method_name, htu, now, presented->token}, diag);
        if (!checked) co_return refused(resource_refusal("invalid_dpop_proof", diag.client_message, true));
        proof = std::move(*checked);
    }
    if (auto ec = fs::check_token_binding(jkt, *presented, proof ? &*proof : nullptr, diag))
        co_return refused(resource_refusal(ec.message(), diag.client_message, !jkt.empty() || presented->dpop));
    if (proof) {
        auto replay = co_await remember_proof(st, *proof, now);
        if (replay && *replay == oauth_errc::invalid_dpop_proof)
            co_return refused(resource_refusal("invalid_dpop_proof", "the DPoP proof was already used (jti)", true));
        if (replay) co_return refused(storage_error(*replay));
    }
    co_return resource_access{std::move(**live), false, {}};
}

}  // namespace latchkey::idp
