// Refresh tokens in the keyring (core/keyring.hpp) for the contexts whose config says
// "storage": "keyring" (context_config::extra, `latch context add --storage keyring`).
// The credentials file then holds everything else and "tokens": {"refresh_token_in":
// "keyring"}. Never loses a token: when the keyring does not take it, it is written to the
// file as for any other context (and the file does not claim otherwise).
#include "store_keyring.hpp"

#include <latchkey/core/keyring.hpp>
#include <latchkey/core/store.hpp>

#include <boost/json.hpp>

namespace latchkey::detail {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view marker_key = "refresh_token_in";

keyring::item_key key_of(const fs::path& home, std::string_view context) {
    return {home.string(), std::string(context)};
}

}  // namespace

bool keyring_configured(const fs::path& home, std::string_view context) {
    diagnostics ignored;
    auto cfg = credential_store(home).load_config(ignored);
    if (!cfg) return false;
    auto c = cfg->contexts.find(std::string(context));
    if (c == cfg->contexts.end()) return false;
    auto s = c->second.extra.find(std::string(storage_key));
    return s != c->second.extra.end() && s->second == "keyring";
}

std::string credentials_record(const fs::path& home, const stored_credentials& creds) {
    if (!keyring_configured(home, creds.context)) return to_json(creds);
    diagnostics diag;
    const auto key = key_of(home, creds.context);
    if (!creds.tokens.refresh_token) {
        keyring::remove(key, diag);  // a previous session's, not this one's
        return to_json(creds);
    }
    if (keyring::store(key, *creds.tokens.refresh_token, diag)) return to_json(creds);  // kept in the file
    auto without = creds;
    without.tokens.refresh_token.reset();
    auto record = json::parse(to_json(without)).as_object();
    record["tokens"].as_object()[marker_key] = "keyring";
    return json::serialize(record) + "\n";
}

bool refresh_token_in_keyring(std::string_view record) {
    if (record.find(marker_key) == std::string_view::npos) return false;  // the usual case, no parse
    json::error_code ec;
    auto v = json::parse(record, ec);
    if (ec || !v.is_object()) return false;
    const auto* t = v.as_object().if_contains("tokens");
    const auto* m = t && t->is_object() ? t->as_object().if_contains(marker_key) : nullptr;
    return m && m->is_string() && m->as_string() == "keyring";
}

void attach_refresh_token(const fs::path& home, stored_credentials& creds) {
    diagnostics diag;
    auto rt = keyring::load(key_of(home, creds.context), diag);
    // Unreachable keyring or a removed item: no refresh token; the access token still
    // serves until it expires, then the context needs a login (exit 77).
    if (rt && *rt) creds.tokens.refresh_token = std::move(**rt);
}

void forget_refresh_token(const fs::path& home, std::string_view context) {
    if (!keyring_configured(home, context)) return;
    diagnostics ignored;
    keyring::remove(key_of(home, context), ignored);
}

}  // namespace latchkey::detail
