// The single-use steps on SQLite (sqlite_ops.hpp): authorization code redemption and
// refresh token rotation. Each is one BEGIN IMMEDIATE transaction: a conditional UPDATE
// (… AND consumed_at = 0) decides the winner, so of N concurrent redemptions exactly one
// sees its row come back, whichever process or thread they come from.
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

constexpr const char* code_columns =
    "code_hash, grant_id, client_id, user_id, redirect_uri, scope, nonce, code_challenge, expires_at, consumed_at, "
    "organization_id";

code_record code_from(const stmt& s) {
    return {s.text(0), s.text(1), s.text(2), s.text(3), s.text(4),
            s.text(5), s.text(6), s.text(7), s.int64(8), s.int64(9), s.text(10)};
}

constexpr const char* refresh_columns =
    "token_hash, family_id, client_id, user_id, scope, expires_at, rotated_at, revoked_at, organization_id, jkt";

refresh_record refresh_from(const stmt& s) {
    return {s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5), s.int64(6), s.int64(7), s.text(8), s.text(9)};
}

// The grant's access tokens too: they carry it as `gid`, and live_access_token looks here.
error_code revoke_grant(sqlite_db& db, const std::string& grant_id, std::int64_t now) {
    auto s = db.prepare("INSERT INTO revoked_grants (grant_id, revoked_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
    s.bind(1, grant_id).bind(2, now);
    return step_error(s.step());
}

error_code revoke_family(sqlite_db& db, const std::string& family_id, std::int64_t now) {
    auto s = db.prepare("UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at = 0");
    s.bind(1, family_id).bind(2, now);
    if (auto ec = step_error(s.step())) return ec;
    return revoke_grant(db, family_id, now);
}

}  // namespace

error_code put_code(sqlite_db& db, const code_record& c) {
    auto s = db.prepare(std::string("INSERT INTO auth_codes (") + code_columns +
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    s.bind(1, c.code_hash).bind(2, c.grant_id).bind(3, c.client_id).bind(4, c.user_id).bind(5, c.redirect_uri);
    s.bind(6, c.scope).bind(7, c.nonce).bind(8, c.code_challenge).bind(9, c.expires_at).bind(10, c.consumed_at);
    s.bind(11, c.organization_id);
    return step_error(s.step());
}

result<code_consume_result> consume_code(sqlite_db& db, const std::string& code_hash, std::int64_t now) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    code_consume_result out;
    {
        auto s = db.prepare(std::string("UPDATE auth_codes SET consumed_at = ?2 WHERE code_hash = ?1 AND "
                                        "consumed_at = 0 AND expires_at > ?2 RETURNING ") + code_columns);
        s.bind(1, code_hash).bind(2, now);
        const int rc = s.step();
        if (rc == SQLITE_ROW) {
            out = {consume_status::consumed, code_from(s)};
        } else if (auto ec = step_error(rc)) {
            return ec;
        }
    }
    if (out.status != consume_status::consumed) {
        auto s = db.prepare(std::string("SELECT ") + code_columns + " FROM auth_codes WHERE code_hash = ?1");
        s.bind(1, code_hash);
        const int rc = s.step();
        if (rc == SQLITE_DONE) return out;  // unknown
        if (rc != SQLITE_ROW) return step_error(rc);
        out.code = code_from(s);
        out.status = out.code.consumed_at != 0 ? consume_status::replayed : consume_status::expired;
    }
    // RFC 6749 §4.1.2: a code used twice revokes what it issued.
    if (out.status == consume_status::replayed)
        if (auto ec = revoke_family(db, out.code.grant_id, now)) return ec;
    if (!tx.commit()) return make_error_code(server_errc::storage_failed);
    return out;
}

error_code put_refresh(sqlite_db& db, const refresh_record& r) {
    auto s = db.prepare(std::string("INSERT INTO refresh_tokens (") + refresh_columns +
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    s.bind(1, r.token_hash).bind(2, r.family_id).bind(3, r.client_id).bind(4, r.user_id).bind(5, r.scope);
    s.bind(6, r.expires_at).bind(7, r.rotated_at).bind(8, r.revoked_at).bind(9, r.organization_id).bind(10, r.jkt);
    return step_error(s.step());
}

result<refresh_rotate_result> rotate_refresh(sqlite_db& db, const std::string& old_hash,
                                             const refresh_record& next, std::int64_t now) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    refresh_rotate_result out;
    {
        // Only the client it was issued to may rotate it (RFC 6749 §6).
        auto s = db.prepare(std::string("UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1 AND "
                                        "client_id = ?3 AND rotated_at = 0 AND revoked_at = 0 AND "
                                        "expires_at > ?2 RETURNING ") + refresh_columns);
        s.bind(1, old_hash).bind(2, now).bind(3, next.client_id);
        const int rc = s.step();
        if (rc == SQLITE_ROW) {
            out = {consume_status::consumed, refresh_from(s)};
        } else if (auto ec = step_error(rc)) {
            return ec;
        }
    }
    if (out.status == consume_status::consumed) {
        refresh_record n = next;
        n.family_id = out.old_token.family_id;
        n.user_id = out.old_token.user_id;
        n.scope = out.old_token.scope;
        n.organization_id = out.old_token.organization_id;
        n.jkt = out.old_token.jkt;  // the binding stays with the family (RFC 9449 §5)
        n.rotated_at = n.revoked_at = 0;
        if (auto ec = put_refresh(db, n)) return ec;
    } else {
        auto s = db.prepare(std::string("SELECT ") + refresh_columns +
                            " FROM refresh_tokens WHERE token_hash = ?1 AND client_id = ?2");
        s.bind(1, old_hash).bind(2, next.client_id);
        const int rc = s.step();
        if (rc == SQLITE_DONE) return out;  // unknown (or another client's)
        if (rc != SQLITE_ROW) return step_error(rc);
        out.old_token = refresh_from(s);
        out.status = out.old_token.rotated_at != 0 ? consume_status::replayed : consume_status::expired;
    }
    // RFC 9700 §4.14.2: a rotated token presented again means one of two holders is an
    // attacker; revoke the whole family.
    if (out.status == consume_status::replayed)
        if (auto ec = revoke_family(db, out.old_token.family_id, now)) return ec;
    if (!tx.commit()) return make_error_code(server_errc::storage_failed);
    return out;
}

result<bool> revoke_refresh(sqlite_db& db, const std::string& token_hash, const std::string& client_id,
                            std::int64_t now) {
    transaction tx(db);
    if (!tx.ok()) return result<bool>(boost::system::in_place_error, make_error_code(server_errc::storage_failed));
    std::string family;
    {
        auto f = db.prepare("SELECT family_id FROM refresh_tokens WHERE token_hash = ?1 AND client_id = ?2");
        f.bind(1, token_hash).bind(2, client_id);
        const int rc = f.step();
        if (rc == SQLITE_DONE) return false;
        if (rc != SQLITE_ROW) return result<bool>(boost::system::in_place_error, step_error(rc));
        family = f.text(0);
    }
    auto s = db.prepare("UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at = 0 AND family_id = ?1");
    s.bind(1, family).bind(2, now);
    if (auto ec = step_error(s.step())) return result<bool>(boost::system::in_place_error, ec);
    const bool changed = sqlite3_changes(db.handle()) > 0;
    if (auto ec = revoke_grant(db, family, now)) return result<bool>(boost::system::in_place_error, ec);
    if (!tx.commit()) return result<bool>(boost::system::in_place_error, make_error_code(server_errc::storage_failed));
    return changed;
}

result<bool> grant_revoked(sqlite_db& db, const std::string& grant_id) {
    auto s = db.prepare("SELECT 1 FROM revoked_grants WHERE grant_id = ?1");
    s.bind(1, grant_id);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return result<bool>(boost::system::in_place_error, step_error(rc));
}

}  // namespace latchkey::transport::server::detail
