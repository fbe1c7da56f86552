// Consent records on SQLite (sqlite_ops.hpp): one row per user and client; and the shared
// attempt counters (rate limits).
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

result<std::int64_t> count_attempt(sqlite_db& db, const std::string& key, std::int64_t window_start) {
    std::int64_t hits = 0;
    {
        auto s = db.prepare("INSERT INTO rate_limits (key, window_start, hits) VALUES (?1, ?2, 1) "
                            "ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits");
        s.bind(1, key).bind(2, window_start);
        const int rc = s.step();
        if (rc != SQLITE_ROW) return step_error(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
        hits = s.int64(0);
    }
    if (hits == 1) {  // the key's first attempt in a new window: sweep the old ones
        auto p = db.prepare("DELETE FROM rate_limits WHERE window_start < ?1");
        p.bind(1, window_start);
        if (auto ec = step_error(p.step())) return ec;
    }
    return hits;
}

}  // namespace latchkey::transport::server::detail
