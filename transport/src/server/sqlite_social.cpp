// Social login on SQLite (sqlite_ops.hpp): upstream providers and linked accounts. Linking
// is one transaction (the new user, if any, and the account row), so two concurrent
// callbacks for one upstream account leave one user and one account, never two.
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;
using records::account_record;
using records::social_provider_record;

error_code put_social_provider(sqlite_db& db, const social_provider_record& p) {
    auto s = db.prepare(
        "INSERT INTO social_providers (name, issuer, client_id, sealed_secret, scope, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET issuer = excluded.issuer, "
        "client_id = excluded.client_id, sealed_secret = excluded.sealed_secret, scope = excluded.scope");
    s.bind(1, p.name).bind(2, p.issuer).bind(3, p.client_id).bind(4, p.sealed_secret).bind(5, p.scope);
    s.bind(6, p.created_at);
    return step_error(s.step());
}

result<std::vector<social_provider_record>> list_social_providers(sqlite_db& db) {
    auto s = db.prepare(
        "SELECT name, issuer, client_id, sealed_secret, scope, created_at FROM social_providers ORDER BY name");
    std::vector<social_provider_record> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5)});
    if (auto ec = step_error(rc)) return ec;
    return out;
}

error_code delete_social_provider(sqlite_db& db, const std::string& name) {
    auto s = db.prepare("DELETE FROM social_providers WHERE name = ?1");
    s.bind(1, name);
    if (auto ec = step_error(s.step())) return ec;
    return sqlite3_changes(db.handle()) == 1 ? error_code{} : make_error_code(server_errc::not_found);
}

result<account_user> find_account(sqlite_db& db, const std::string& provider_id, const std::string& account_id) {
    auto s = db.prepare(std::string("SELECT a.id, a.user_id, a.provider_id, a.account_id, a.issuer, a.created_at, ") +
                        user_columns +
                        " FROM account a JOIN users u ON u.id = a.user_id WHERE a.provider_id = ?1 AND a.account_id = ?2");
    s.bind(1, provider_id).bind(2, account_id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    if (rc != SQLITE_ROW) return step_error(rc);
    return account_user{{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5)}, user_from(s, 6)};
}

result<user_record> find_user_by_email(sqlite_db& db, const std::string& email) {
    auto s = db.prepare(std::string("SELECT ") + user_columns +
                        " FROM users u WHERE u.email = ?1 OR u.username = ?1 ORDER BY u.created_at, u.id LIMIT 1");
    s.bind(1, email);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return user_from(s, 0);
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    return step_error(rc);
}

error_code link_account(sqlite_db& db, const account_record& a, const std::optional<user_record>& new_user) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    if (new_user)
        if (auto ec = put_user(db, *new_user)) return ec;
    auto s = db.prepare("INSERT INTO account (id, user_id, provider_id, account_id, issuer, created_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    s.bind(1, a.id).bind(2, a.user_id).bind(3, a.provider_id).bind(4, a.account_id).bind(5, a.issuer);
    s.bind(6, a.created_at);
    if (auto ec = step_error(s.step())) return ec;
    return tx.commit() ? error_code{} : make_error_code(server_errc::storage_failed);
}

}  // namespace latchkey::transport::server::detail
