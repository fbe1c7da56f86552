// Clients, users, signing keys and sessions on SQLite (sqlite_ops.hpp).
#include "record_text.hpp"
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

constexpr const char* client_columns =
    "client_id, name, auth_method, secret_hash, redirect_uris, grant_types, scope, created_at, skip_consent, "
    "post_logout_redirect_uris, jwks, registration_token_hash, owner, dpop_bound";

client_record client_from(const stmt& s) {
    return {s.text(0), s.text(1),        s.text(2),          s.text(3),      split_words(s.text(4)),
            split_words(s.text(5)), s.text(6), s.int64(7), s.int64(8) != 0, split_words(s.text(9)),
            s.text(10),       s.text(11), s.text(12), s.int64(13) != 0};
}

// DELETE ... : not_found when nothing matched.
error_code delete_one(sqlite_db& db, const char* sql, const std::string& key) {
    auto s = db.prepare(sql);
    s.bind(1, key);
    if (auto ec = step_error(s.step())) return ec;
    return sqlite3_changes(db.handle()) == 1 ? error_code{} : make_error_code(server_errc::not_found);
}

}  // namespace

const char* const user_columns =
    "u.id, u.username, u.password_hash, u.created_at, u.name, u.email, u.role, u.banned, u.ban_reason, u.ban_expires";

user_record user_from(const stmt& s, int first) {
    const int f = first;
    return {s.text(f),     s.text(f + 1), s.text(f + 2),        s.int64(f + 3), s.text(f + 4),
            s.text(f + 5), s.text(f + 6), s.int64(f + 7) != 0, s.text(f + 8),  s.int64(f + 9)};
}

error_code step_error(int rc) {
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return make_error_code(server_errc::already_exists);
    return make_error_code(server_errc::storage_failed);
}

error_code put_client(sqlite_db& db, const client_record& c) {
    auto s = db.prepare(std::string("INSERT INTO clients (") + client_columns +
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    s.bind(1, c.client_id).bind(2, c.name).bind(3, c.auth_method).bind(4, c.secret_hash);
    s.bind(5, join_words(c.redirect_uris)).bind(6, join_words(c.grant_types)).bind(7, c.scope).bind(8, c.created_at);
    s.bind(9, std::int64_t{c.skip_consent ? 1 : 0}).bind(10, join_words(c.post_logout_redirect_uris));
    s.bind(11, c.jwks).bind(12, c.registration_token_hash).bind(13, c.owner);
    s.bind(14, std::int64_t{c.dpop_bound ? 1 : 0});
    return step_error(s.step());
}

error_code update_client(sqlite_db& db, const client_record& c) {
    auto s = db.prepare("UPDATE clients SET name = ?2, grant_types = ?3, scope = ?4, jwks = ?5, "
                        "registration_token_hash = ?6, dpop_bound = ?7 WHERE client_id = ?1");
    s.bind(1, c.client_id).bind(2, c.name).bind(3, join_words(c.grant_types)).bind(4, c.scope).bind(5, c.jwks);
    s.bind(6, c.registration_token_hash).bind(7, std::int64_t{c.dpop_bound ? 1 : 0});
    if (auto ec = step_error(s.step())) return ec;
    return sqlite3_changes(db.handle()) == 1 ? error_code{} : make_error_code(server_errc::not_found);
}

result<bool> remember_jti(sqlite_db& db, const std::string& jti_hash, std::int64_t expires_at, std::int64_t now) {
    {
        auto purge = db.prepare("DELETE FROM assertion_jtis WHERE expires_at < ?1");
        purge.bind(1, now);
        if (auto ec = step_error(purge.step())) return result<bool>(boost::system::in_place_error, ec);
    }
    auto s = db.prepare("INSERT INTO assertion_jtis (jti_hash, expires_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
    s.bind(1, jti_hash).bind(2, expires_at);
    if (auto ec = step_error(s.step())) return result<bool>(boost::system::in_place_error, ec);
    return sqlite3_changes(db.handle()) == 1;
}

result<client_record> find_client(sqlite_db& db, const std::string& id) {
    auto s = db.prepare(std::string("SELECT ") + client_columns + " FROM clients WHERE client_id = ?1");
    s.bind(1, id);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return client_from(s);
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    return step_error(rc);
}

result<std::vector<client_record>> list_clients(sqlite_db& db) {
    auto s = db.prepare(std::string("SELECT ") + client_columns + " FROM clients ORDER BY client_id");
    std::vector<client_record> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(client_from(s));
    if (auto ec = step_error(rc)) return ec;
    return out;
}

error_code delete_client(sqlite_db& db, const std::string& id) {
    return delete_one(db, "DELETE FROM clients WHERE client_id = ?1", id);
}

error_code put_user(sqlite_db& db, const user_record& u) {
    auto s = db.prepare("INSERT INTO users (id, username, password_hash, created_at, name, email, role, banned, "
                        "ban_reason, ban_expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    s.bind(1, u.id).bind(2, u.username).bind(3, u.password_hash).bind(4, u.created_at).bind(5, u.name).bind(6, u.email);
    s.bind(7, u.role).bind(8, std::int64_t{u.banned ? 1 : 0}).bind(9, u.ban_reason).bind(10, u.ban_expires);
    return step_error(s.step());
}

result<user_record> find_user(sqlite_db& db, const std::string& username) {
    auto s = db.prepare(std::string("SELECT ") + user_columns + " FROM users u WHERE u.username = ?1");
    s.bind(1, username);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return user_from(s, 0);
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    return step_error(rc);
}

result<user_record> find_user_by_id(sqlite_db& db, const std::string& id) {
    auto s = db.prepare(std::string("SELECT ") + user_columns + " FROM users u WHERE u.id = ?1");
    s.bind(1, id);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return user_from(s, 0);
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    return step_error(rc);
}

result<std::vector<user_record>> list_users(sqlite_db& db) {
    auto s = db.prepare(std::string("SELECT ") + user_columns + " FROM users u ORDER BY u.username");
    std::vector<user_record> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(user_from(s, 0));
    if (auto ec = step_error(rc)) return ec;
    return out;
}

error_code delete_user(sqlite_db& db, const std::string& username) {
    return delete_one(db, "DELETE FROM users WHERE username = ?1", username);
}

error_code put_signing_key(sqlite_db& db, const signing_key_record& k) {
    auto s = db.prepare("INSERT INTO signing_keys (kid, alg, private_pem, created_at, retired_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, k.kid).bind(2, k.alg).bind(3, k.private_pem).bind(4, k.created_at).bind(5, k.retired_at);
    return step_error(s.step());
}

result<std::vector<signing_key_record>> list_signing_keys(sqlite_db& db) {
    auto s = db.prepare("SELECT kid, alg, private_pem, created_at, retired_at FROM signing_keys "
                        "ORDER BY created_at DESC, kid");
    std::vector<signing_key_record> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        out.push_back({s.text(0), s.text(1), s.text(2), s.int64(3), s.int64(4)});
    if (auto ec = step_error(rc)) return ec;
    return out;
}

error_code put_session(sqlite_db& db, const session_record& r) {
    auto s = db.prepare("INSERT INTO sessions (token_hash, user_id, ip, user_agent, created_at, updated_at, "
                        "expires_at, active_organization_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    s.bind(1, r.token_hash).bind(2, r.user_id).bind(3, r.ip).bind(4, r.user_agent);
    s.bind(5, r.created_at).bind(6, r.updated_at).bind(7, r.expires_at).bind(8, r.active_organization_id);
    return step_error(s.step());
}

result<session_record> find_session(sqlite_db& db, const std::string& token_hash, std::int64_t now) {
    auto s = db.prepare("SELECT token_hash, user_id, ip, user_agent, created_at, updated_at, expires_at, "
                        "active_organization_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2");
    s.bind(1, token_hash).bind(2, now);
    const int rc = s.step();
    if (rc == SQLITE_ROW)
        return session_record{s.text(0),  s.text(1),  s.text(2),  s.text(3),
                              s.int64(4), s.int64(5), s.int64(6), s.text(7)};
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    return step_error(rc);
}

}  // namespace latchkey::transport::server::detail
