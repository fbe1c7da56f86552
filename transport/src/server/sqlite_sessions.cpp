// Browser sessions on SQLite beyond put/find (sqlite_ops.hpp): the two steps of a use with
// sliding expiry, list and delete a user's sessions; and the refresh-token look-up of
// introspection.
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

constexpr const char* session_columns =
    "s.token_hash, s.user_id, s.ip, s.user_agent, s.created_at, s.updated_at, s.expires_at, s.active_organization_id";

session_record session_from(const stmt& s) {
    return {s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4), s.int64(5), s.int64(6), s.text(7)};
}

}  // namespace

result<session_use_result> find_live_session(sqlite_db& db, const std::string& token_hash, std::int64_t now) {
    auto s = db.prepare(std::string("SELECT ") + session_columns + ", " + user_columns +
                        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.expires_at > ?2");
    s.bind(1, token_hash).bind(2, now);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    if (rc != SQLITE_ROW) return step_error(rc);
    session_use_result out;
    out.session = session_from(s);
    out.user = user_from(s, 8);
    return out;
}

result<bool> extend_session(sqlite_db& db, const std::string& token_hash, std::int64_t now, std::int64_t ttl) {
    // One statement, so two concurrent uses both land on the same later expiry.
    auto u = db.prepare("UPDATE sessions SET updated_at = ?2, expires_at = ?3 WHERE token_hash = ?1");
    u.bind(1, token_hash).bind(2, now).bind(3, now + ttl);
    if (auto ec = step_error(u.step())) return result<bool>(boost::system::in_place_error, ec);
    return sqlite3_changes(db.handle()) > 0;
}

void mark_extended(session_use_result& used, std::int64_t now, std::int64_t ttl) {
    used.session.updated_at = now;
    used.session.expires_at = now + ttl;
    used.extended = true;
}

result<std::vector<session_record>> list_sessions(sqlite_db& db, const std::string& user_id, std::int64_t now) {
    auto s = db.prepare(std::string("SELECT ") + session_columns +
                        " FROM sessions s WHERE s.user_id = ?1 AND s.expires_at > ?2 "
                        "ORDER BY s.created_at DESC, s.token_hash");
    s.bind(1, user_id).bind(2, now);
    std::vector<session_record> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(session_from(s));
    if (auto ec = step_error(rc)) return ec;
    return out;
}

result<bool> delete_session(sqlite_db& db, const std::string& token_hash, const std::string& user_id) {
    auto s = db.prepare("DELETE FROM sessions WHERE token_hash = ?1 AND (?2 = '' OR user_id = ?2)");
    s.bind(1, token_hash).bind(2, user_id);
    if (auto ec = step_error(s.step())) return result<bool>(boost::system::in_place_error, ec);
    return sqlite3_changes(db.handle()) > 0;
}

result<refresh_record> find_refresh(sqlite_db& db, const std::string& token_hash) {
    auto s = db.prepare("SELECT token_hash, family_id, client_id, user_id, scope, expires_at, rotated_at, revoked_at, "
                        "organization_id, jkt FROM refresh_tokens WHERE token_hash = ?1");
    s.bind(1, token_hash);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    if (rc != SQLITE_ROW) return step_error(rc);
    return refresh_record{s.text(0),  s.text(1),  s.text(2),  s.text(3), s.text(4),
                          s.int64(5), s.int64(6), s.int64(7), s.text(8), s.text(9)};
}

}  // namespace latchkey::transport::server::detail
