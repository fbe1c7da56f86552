// Two-factor on SQLite (sqlite_ops.hpp): the TOTP key row, backup codes, sign-in challenges.
// The once-only rules are single statements: a TOTP step is accepted by a conditional UPDATE
// (last_step < step), a backup code is spent by a DELETE, a challenge is used by a DELETE;
// of N concurrent attempts exactly one sees its row change.
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;
using records::two_factor_challenge;
using records::two_factor_record;

namespace {

constexpr const char* two_factor_columns =
    "user_id, sealed_key, verified, last_step, failures, locked_until, created_at";

two_factor_record two_factor_from(const stmt& s) {
    return {s.text(0), s.text(1), s.int64(2) != 0, s.int64(3), s.int64(4), s.int64(5), s.int64(6)};
}

error_code insert_backup_codes(sqlite_db& db, const std::string& user_id, const std::vector<std::string>& hashes) {
    auto del = db.prepare("DELETE FROM backup_codes WHERE user_id = ?1");
    del.bind(1, user_id);
    if (auto ec = step_error(del.step())) return ec;
    for (const auto& h : hashes) {
        auto s = db.prepare("INSERT INTO backup_codes (code_hash, user_id) VALUES (?1, ?2)");
        s.bind(1, h).bind(2, user_id);
        if (auto ec = step_error(s.step())) return ec;
    }
    return {};
}

bool changed(sqlite_db& db) { return sqlite3_changes(db.handle()) > 0; }

}  // namespace

error_code put_two_factor(sqlite_db& db, const two_factor_record& t, const std::vector<std::string>& backup_hashes) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    {
        auto s = db.prepare(std::string("INSERT INTO two_factor (") + two_factor_columns +
                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (user_id) DO UPDATE SET "
                            "sealed_key = excluded.sealed_key, verified = excluded.verified, "
                            "last_step = excluded.last_step, failures = excluded.failures, "
                            "locked_until = excluded.locked_until, created_at = excluded.created_at");
        s.bind(1, t.user_id).bind(2, t.sealed_key).bind(3, std::int64_t{t.verified}).bind(4, t.last_step);
        s.bind(5, t.failures).bind(6, t.locked_until).bind(7, t.created_at);
        if (auto ec = step_error(s.step())) return ec;
    }
    if (auto ec = insert_backup_codes(db, t.user_id, backup_hashes)) return ec;
    return tx.commit() ? error_code{} : make_error_code(server_errc::storage_failed);
}

result<two_factor_record> find_two_factor(sqlite_db& db, const std::string& user_id) {
    auto s = db.prepare(std::string("SELECT ") + two_factor_columns + " FROM two_factor WHERE user_id = ?1");
    s.bind(1, user_id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    if (rc != SQLITE_ROW) return step_error(rc);
    return two_factor_from(s);
}

error_code delete_two_factor(sqlite_db& db, const std::string& user_id) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    for (const char* sql : {"DELETE FROM two_factor WHERE user_id = ?1", "DELETE FROM backup_codes WHERE user_id = ?1"}) {
        auto s = db.prepare(sql);
        s.bind(1, user_id);
        if (auto ec = step_error(s.step())) return ec;
    }
    return tx.commit() ? error_code{} : make_error_code(server_errc::storage_failed);
}

result<bool> accept_totp_step(sqlite_db& db, const std::string& user_id, std::int64_t step, std::int64_t now) {
    auto s = db.prepare("UPDATE two_factor SET last_step = ?2, verified = 1, failures = 0 "
                        "WHERE user_id = ?1 AND last_step < ?2 AND locked_until <= ?3");
    s.bind(1, user_id).bind(2, step).bind(3, now);
    if (auto ec = step_error(s.step())) return result<bool>(boost::system::in_place_error, ec);
    return changed(db);
}

result<two_factor_record> record_two_factor_failure(sqlite_db& db, const std::string& user_id, std::int64_t now,
                                                    flows::server::two_factor_lockout p) {
    auto s = db.prepare(std::string("UPDATE two_factor SET "
                                    "locked_until = CASE WHEN failures + 1 >= ?3 THEN ?2 + ?4 ELSE locked_until END, "
                                    "failures = CASE WHEN failures + 1 >= ?3 THEN 0 ELSE failures + 1 END "
                                    "WHERE user_id = ?1 RETURNING ") +
                        two_factor_columns);
    s.bind(1, user_id).bind(2, now).bind(3, p.max_failures).bind(4, p.lock_seconds);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    if (rc != SQLITE_ROW) return step_error(rc);
    auto out = two_factor_from(s);
    while (s.step() == SQLITE_ROW) {
    }
    return out;
}

result<bool> consume_backup_code(sqlite_db& db, const std::string& user_id, const std::string& code_hash,
                                 std::int64_t now) {
    auto s = db.prepare("DELETE FROM backup_codes WHERE code_hash = ?1 AND user_id = ?2 AND NOT EXISTS "
                        "(SELECT 1 FROM two_factor t WHERE t.user_id = ?2 AND t.locked_until > ?3)");
    s.bind(1, code_hash).bind(2, user_id).bind(3, now);
    if (auto ec = step_error(s.step())) return result<bool>(boost::system::in_place_error, ec);
    return changed(db);
}

error_code replace_backup_codes(sqlite_db& db, const std::string& user_id, const std::vector<std::string>& hashes) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    if (auto ec = insert_backup_codes(db, user_id, hashes)) return ec;
    return tx.commit() ? error_code{} : make_error_code(server_errc::storage_failed);
}

result<std::int64_t> count_backup_codes(sqlite_db& db, const std::string& user_id) {
    auto s = db.prepare("SELECT COUNT(*) FROM backup_codes WHERE user_id = ?1");
    s.bind(1, user_id);
    const int rc = s.step();
    if (rc != SQLITE_ROW) return step_error(rc);
    return s.int64(0);
}

error_code put_challenge(sqlite_db& db, const two_factor_challenge& c) {
    auto s = db.prepare("INSERT INTO two_factor_challenges (token_hash, user_id, kind, remember, expires_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, c.token_hash).bind(2, c.user_id).bind(3, c.kind).bind(4, std::int64_t{c.remember}).bind(5, c.expires_at);
    return step_error(s.step());
}

result<two_factor_challenge> find_challenge(sqlite_db& db, const std::string& token_hash, std::int64_t now) {
    auto s = db.prepare("SELECT token_hash, user_id, kind, remember, expires_at FROM two_factor_challenges "
                        "WHERE token_hash = ?1 AND expires_at > ?2");
    s.bind(1, token_hash).bind(2, now);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    if (rc != SQLITE_ROW) return step_error(rc);
    return two_factor_challenge{s.text(0), s.text(1), s.text(2), s.int64(3) != 0, s.int64(4)};
}

result<bool> delete_challenge(sqlite_db& db, const std::string& token_hash) {
    auto s = db.prepare("DELETE FROM two_factor_challenges WHERE token_hash = ?1");
    s.bind(1, token_hash);
    if (auto ec = step_error(s.step())) return result<bool>(boost::system::in_place_error, ec);
    return changed(db);
}

}  // namespace latchkey::transport::server::detail
