// Consent records on SQLite (sqlite_ops.hpp): one row per user and client.
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

result<std::string> find_consent(sqlite_db& db, const std::string& user_id, const std::string& client_id) {
    auto s = db.prepare("SELECT scope FROM consents WHERE user_id = ?1 AND client_id = ?2");
    s.bind(1, user_id).bind(2, client_id);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return s.text(0);
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    return step_error(rc);
}

error_code put_consent(sqlite_db& db, const std::string& user_id, const std::string& client_id,
                       const std::string& scope, std::int64_t now) {
    // ON CONFLICT ... DO UPDATE: SQLite 3.24+ and PostgreSQL 9.5+.
    auto s = db.prepare("INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4) "
                        "ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, "
                        "granted_at = excluded.granted_at");
    s.bind(1, user_id).bind(2, client_id).bind(3, scope).bind(4, now);
    return step_error(s.step());
}

}  // namespace latchkey::transport::server::detail
