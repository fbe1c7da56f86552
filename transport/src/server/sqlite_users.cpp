// Platform roles and bans on SQLite (sqlite_ops.hpp; Better Auth's admin plugin).
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

// The statement's UPDATE matched a row: ok, else not_found.
error_code one_changed(sqlite_db& db, stmt& s) {
    if (auto ec = step_error(s.step())) return ec;
    return sqlite3_changes(db.handle()) == 1 ? error_code{} : make_error_code(server_errc::not_found);
}

error_code run(sqlite_db& db, const char* sql, const std::string& user_id, std::int64_t now = 0) {
    auto s = db.prepare(sql);
    s.bind(1, user_id);
    if (now != 0) s.bind(2, now);
    return step_error(s.step());
}

}  // namespace

error_code set_user_role(sqlite_db& db, const std::string& user_id, const std::string& role) {
    auto s = db.prepare("UPDATE users SET role = ?2 WHERE id = ?1");
    s.bind(1, user_id).bind(2, role);
    return one_changed(db, s);
}

error_code update_user(sqlite_db& db, const user_record& u) {
    auto s = db.prepare("UPDATE users SET username = ?2, name = ?3, email = ?4, password_hash = ?5 WHERE id = ?1");
    s.bind(1, u.id).bind(2, u.username).bind(3, u.name).bind(4, u.email).bind(5, u.password_hash);
    return one_changed(db, s);
}

error_code ban_user(sqlite_db& db, const std::string& user_id, const std::string& reason, std::int64_t expires,
                    std::int64_t now) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    {
        auto s = db.prepare("UPDATE users SET banned = 1, ban_reason = ?2, ban_expires = ?3 WHERE id = ?1");
        s.bind(1, user_id).bind(2, reason).bind(3, expires);
        if (auto ec = one_changed(db, s)) return ec;
    }
    if (auto ec = run(db, "DELETE FROM sessions WHERE user_id = ?1", user_id)) return ec;
    if (auto ec = run(db, "DELETE FROM two_factor_challenges WHERE user_id = ?1", user_id)) return ec;
    if (auto ec = run(db, "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at = 0", user_id,
                      now))
        return ec;
    return tx.commit() ? error_code{} : make_error_code(server_errc::storage_failed);
}

error_code unban_user(sqlite_db& db, const std::string& user_id) {
    auto s = db.prepare("UPDATE users SET banned = 0, ban_reason = '', ban_expires = 0 WHERE id = ?1");
    s.bind(1, user_id);
    return one_changed(db, s);
}

error_code delete_user_sessions(sqlite_db& db, const std::string& user_id) {
    return run(db, "DELETE FROM sessions WHERE user_id = ?1", user_id);
}

result<user_page> page_users(sqlite_db& db, std::int64_t limit, std::int64_t offset) {
    user_page out;
    {
        auto s = db.prepare(std::string("SELECT ") + user_columns +
                            " FROM users u ORDER BY u.created_at, u.id LIMIT ?1 OFFSET ?2");
        s.bind(1, limit).bind(2, offset);
        int rc;
        while ((rc = s.step()) == SQLITE_ROW) out.users.push_back(user_from(s, 0));
        if (auto ec = step_error(rc)) return ec;
    }
    auto c = db.prepare("SELECT COUNT(*) FROM users");
    const int rc = c.step();
    if (rc != SQLITE_ROW) return step_error(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
    out.total = c.int64(0);
    return out;
}

}  // namespace latchkey::transport::server::detail
