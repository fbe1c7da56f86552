// The PostgreSQL adapter (pg_store.hpp): opening and migrating, the helpers every operation
// uses (pg_store_impl.hpp says how to add one), clients, users, signing keys, consent and
// the shared rate-limit counters. Sessions: pg_sessions.cpp; single-use steps and device
// codes: pg_single_use.cpp; two-factor: pg_two_factor.cpp; social login: pg_social.cpp;
// organizations and invitations: pg_orgs.cpp.
#include "pg_store_impl.hpp"
#include "record_text.hpp"
#include "schema.hpp"

#include <cstdlib>
#include <ctime>

namespace latchkey::transport::server {

namespace detail {

using flows::server::server_errc;

namespace {

// ---- migrations

// Any constant: the advisory lock every latch-idp takes while it migrates.
constexpr const char* migrate_lock = "SELECT pg_advisory_xact_lock(7469647)";

bool pg_ok(PGresult* r, diagnostics& diag, const char* what) {
    const auto st = PQresultStatus(r);
    const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        const char* m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        diag.client_message = std::string("cannot migrate the database (") + what + "): " + (m ? m : "unknown error");
    }
    return ok;
}

bool run_blocking(PGconn* c, const char* sql, diagnostics& diag, const char* what) {
    PGresult* r = PQexec(c, sql);
    const bool ok = pg_ok(r, diag, what);
    PQclear(r);
    return ok;
}

bool apply_pending(PGconn* c, diagnostics& diag) {
    PGresult* v = PQexec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!pg_ok(v, diag, "schema version")) {
        PQclear(v);
        return false;
    }
    const int current = std::atoi(PQgetvalue(v, 0, 0));
    PQclear(v);
    if (auto why = newer_schema_problem(current); !why.empty()) {
        diag.client_message = std::move(why);
        return false;
    }
    for (auto* m = migrations_begin(); m != migrations_end(); ++m) {
        if (m->version <= current) continue;
        const std::string what = "step " + std::to_string(m->version);
        if (!run_blocking(c, m->for_pg(), diag, what.c_str())) return false;
        const std::string version = std::to_string(m->version), at = std::to_string(std::time(nullptr));
        const char* values[] = {version.c_str(), at.c_str()};
        PGresult* r = PQexecParams(c, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", 2,
                                   nullptr, values, nullptr, nullptr, 0);
        const bool ok = pg_ok(r, diag, what.c_str());
        PQclear(r);
        if (!ok) return false;
    }
    return true;
}

}  // namespace

bool pg_migrate(PGconn* c, diagnostics& diag) {
    // One transaction under the lock: a second replica starting now waits, then sees the
    // version this one committed (PostgreSQL's DDL is transactional).
    if (!run_blocking(c, "BEGIN", diag, "begin") || !run_blocking(c, migrate_lock, diag, "lock") ||
        !run_blocking(c,
                      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                      "applied_at BIGINT NOT NULL)",
                      diag, "version table") ||
        !apply_pending(c, diag)) {
        PQclear(PQexec(c, "ROLLBACK"));
        return false;
    }
    return run_blocking(c, "COMMIT", diag, "commit");
}

// ---- helpers

pg_store::pg_store(std::string conninfo, pg_options o)
    : pool_(std::move(conninfo), pg_pool_options{o.pool_size, o.max_waiting, o.acquire_timeout, o.connect_timeout,
                                                 o.query_timeout}) {}

asio::awaitable<result<pg_rows>> pg_store::q(pg_conn& c, const char* sql, const pg_params& p) {
    co_return co_await c.query(sql, p, pool_.options().query_timeout);
}

asio::awaitable<result<pg_rows>> pg_store::run(const char* sql, pg_params p) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    co_return co_await q(**lease, sql, p);
}

asio::awaitable<error_code> pg_store::exec(const char* sql, pg_params p) {
    auto rows = co_await run(sql, std::move(p));
    co_return rows ? error_code{} : rows.error();
}

asio::awaitable<result<std::int64_t>> pg_store::changed(const char* sql, pg_params p) {
    auto rows = co_await run(sql, std::move(p));
    if (!rows) co_return rows.error();
    co_return rows->affected();
}

asio::awaitable<error_code> pg_store::changed_one(const char* sql, pg_params p) {
    auto n = co_await changed(sql, std::move(p));
    if (!n) co_return n.error();
    co_return *n > 0 ? error_code{} : make_error_code(server_errc::not_found);
}

asio::awaitable<error_code> pg_store::begin(pg_conn& c) {
    co_return co_await c.exec("BEGIN", pool_.options().query_timeout);
}

asio::awaitable<error_code> pg_store::commit(pg_conn& c) {
    auto ec = co_await c.exec("COMMIT", pool_.options().query_timeout);
    if (ec) c.mark_broken();
    co_return ec;
}

asio::awaitable<error_code> pg_store::rollback(pg_conn& c) {
    auto ec = co_await c.exec("ROLLBACK", pool_.options().query_timeout);
    if (ec) c.mark_broken();
    co_return ec;
}

asio::awaitable<error_code> pg_store::roll_back_with(pg_conn& c, error_code outcome) {
    (void)co_await rollback(c);  // failing, it marks `c` broken: dropped, so rolled back by the server
    co_return outcome;
}

// ---- clients

namespace {

#define LATCH_CLIENT_COLUMNS                                                                                       \
    "client_id, name, auth_method, secret_hash, redirect_uris, grant_types, scope, created_at, skip_consent, "     \
    "post_logout_redirect_uris, jwks, registration_token_hash, owner, dpop_bound"

client_record client_from(const pg_row& r) {
    return {r.text(0),  r.text(1),  r.text(2),  r.text(3), split_words(r.text(4)), split_words(r.text(5)),
            r.text(6),  r.int64(7), r.flag(8),  split_words(r.text(9)), r.text(10), r.text(11), r.text(12),
            r.flag(13)};
}

constexpr const char* put_client_sql = "INSERT INTO clients (" LATCH_CLIENT_COLUMNS
                                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
constexpr const char* find_client_sql = "SELECT " LATCH_CLIENT_COLUMNS " FROM clients WHERE client_id = $1";
constexpr const char* list_clients_sql = "SELECT " LATCH_CLIENT_COLUMNS " FROM clients ORDER BY client_id";
constexpr const char* delete_client_sql = "DELETE FROM clients WHERE client_id = $1";
constexpr const char* update_client_sql = "UPDATE clients SET name = $2, grant_types = $3, scope = $4, jwks = $5, "
                                          "registration_token_hash = $6, dpop_bound = $7 WHERE client_id = $1";
// The purge and the insert in one statement; a jti already there is a replay.
constexpr const char* remember_jti_sql =
    "WITH purged AS (DELETE FROM assertion_jtis WHERE expires_at < $3) "
    "INSERT INTO assertion_jtis (jti_hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING";

}  // namespace

asio::awaitable<error_code> pg_store::put_client(client_record c) {
    pg_params p(c.client_id, c.name, c.auth_method, c.secret_hash, join_words(c.redirect_uris),
                join_words(c.grant_types), c.scope, c.created_at, c.skip_consent,
                join_words(c.post_logout_redirect_uris), c.jwks, c.registration_token_hash, c.owner, c.dpop_bound);
    return exec(put_client_sql, std::move(p));
}
asio::awaitable<result<client_record>> pg_store::find_client(std::string id) {
    return one<client_record>(find_client_sql, pg_params(id), client_from);
}
asio::awaitable<result<std::vector<client_record>>> pg_store::list_clients() {
    return all<client_record>(list_clients_sql, pg_params(), client_from);
}
asio::awaitable<error_code> pg_store::delete_client(std::string id) {
    return changed_one(delete_client_sql, pg_params(id));
}
asio::awaitable<error_code> pg_store::update_client(client_record c) {
    pg_params p(c.client_id, c.name, join_words(c.grant_types), c.scope, c.jwks, c.registration_token_hash,
                c.dpop_bound);
    return changed_one(update_client_sql, std::move(p));
}
asio::awaitable<result<bool>> pg_store::remember_jti(std::string hash, std::int64_t expires_at, std::int64_t now) {
    pg_params p(hash, expires_at, now);
    auto n = co_await changed(remember_jti_sql, std::move(p));
    if (!n) co_return bool_failure(n.error());
    co_return *n == 1;
}

// ---- users

const char* const pg_put_user_sql =
    "INSERT INTO users (id, username, password_hash, created_at, name, email, role, banned, ban_reason, ban_expires) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pg_params pg_user_params(const user_record& u) {
    return pg_params(u.id, u.username, u.password_hash, u.created_at, u.name, u.email, u.role, u.banned, u.ban_reason,
                     u.ban_expires);
}

user_record pg_user_from(const pg_row& r, int f) {
    return {r.text(f),     r.text(f + 1), r.text(f + 2), r.int64(f + 3), r.text(f + 4),
            r.text(f + 5), r.text(f + 6), r.flag(f + 7), r.text(f + 8),  r.int64(f + 9)};
}

namespace {

constexpr const char* find_user_sql = "SELECT " LATCH_PG_USER_COLUMNS " FROM users u WHERE u.username = $1";
constexpr const char* find_user_by_id_sql = "SELECT " LATCH_PG_USER_COLUMNS " FROM users u WHERE u.id = $1";
constexpr const char* list_users_sql = "SELECT " LATCH_PG_USER_COLUMNS " FROM users u ORDER BY u.username";
constexpr const char* page_users_sql =
    "SELECT " LATCH_PG_USER_COLUMNS " FROM users u ORDER BY u.created_at, u.id LIMIT $1 OFFSET $2";
constexpr const char* count_users_sql = "SELECT COUNT(*) FROM users";
constexpr const char* delete_user_sql = "DELETE FROM users WHERE username = $1";
constexpr const char* update_user_sql =
    "UPDATE users SET username = $2, name = $3, email = $4, password_hash = $5 WHERE id = $1";
constexpr const char* set_role_sql = "UPDATE users SET role = $2 WHERE id = $1";
constexpr const char* unban_sql = "UPDATE users SET banned = 0, ban_reason = '', ban_expires = 0 WHERE id = $1";
constexpr const char* delete_user_sessions_sql = "DELETE FROM sessions WHERE user_id = $1";
// The ban and everything it ends, in one statement (so, one transaction).
constexpr const char* ban_sql =
    "WITH b AS (UPDATE users SET banned = 1, ban_reason = $2, ban_expires = $3 WHERE id = $1 RETURNING id), "
    "s AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM b)), "
    "c AS (DELETE FROM two_factor_challenges WHERE user_id IN (SELECT id FROM b)), "
    "r AS (UPDATE refresh_tokens SET revoked_at = $4 WHERE user_id IN (SELECT id FROM b) AND revoked_at = 0) "
    "SELECT COUNT(*) FROM b";

}  // namespace

asio::awaitable<error_code> pg_store::put_user(user_record u) {
    return exec(pg_put_user_sql, pg_user_params(u));
}
asio::awaitable<result<user_record>> pg_store::find_user(std::string name) {
    return one<user_record>(find_user_sql, pg_params(name), pg_user_at0);
}
asio::awaitable<result<user_record>> pg_store::find_user_by_id(std::string id) {
    return one<user_record>(find_user_by_id_sql, pg_params(id), pg_user_at0);
}
asio::awaitable<result<std::vector<user_record>>> pg_store::list_users() {
    return all<user_record>(list_users_sql, pg_params(), pg_user_at0);
}
asio::awaitable<error_code> pg_store::delete_user(std::string name) {
    return changed_one(delete_user_sql, pg_params(name));
}
asio::awaitable<error_code> pg_store::update_user(user_record u) {
    return changed_one(update_user_sql, pg_params(u.id, u.username, u.name, u.email, u.password_hash));
}
asio::awaitable<error_code> pg_store::set_user_role(std::string id, std::string role) {
    return changed_one(set_role_sql, pg_params(id, role));
}
asio::awaitable<error_code> pg_store::ban_user(std::string id, std::string reason, std::int64_t expires,
                                               std::int64_t now) {
    pg_params p(id, reason, expires, now);
    auto rows = co_await run(ban_sql, std::move(p));
    if (!rows) co_return rows.error();
    co_return rows->int64(0, 0) == 1 ? error_code{} : make_error_code(server_errc::not_found);
}
asio::awaitable<error_code> pg_store::unban_user(std::string id) {
    return changed_one(unban_sql, pg_params(id));
}
asio::awaitable<error_code> pg_store::delete_user_sessions(std::string id) {
    return exec(delete_user_sessions_sql, pg_params(id));
}
asio::awaitable<result<user_page>> pg_store::page_users(std::int64_t limit, std::int64_t offset) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    const pg_params page(limit, offset);
    auto rows = co_await q(**lease, page_users_sql, page);
    if (!rows) co_return rows.error();
    const pg_params none;
    auto count = co_await q(**lease, count_users_sql, none);
    if (!count) co_return count.error();
    user_page out;
    for (int i = 0; i < rows->size(); ++i) out.users.push_back(pg_user_from(pg_row{*rows, i}, 0));
    out.total = count->int64(0, 0);
    co_return out;
}

// ---- signing keys, consent, rate limits

namespace {

constexpr const char* put_key_sql =
    "INSERT INTO signing_keys (kid, alg, private_pem, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)";
constexpr const char* list_keys_sql =
    "SELECT kid, alg, private_pem, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid";
signing_key_record key_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.int64(3), r.int64(4)};
}

constexpr const char* find_consent_sql = "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2";
constexpr const char* put_consent_sql =
    "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at";
std::string scope_from(const pg_row& r) { return r.text(0); }

constexpr const char* count_attempt_sql =
    "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) "
    "ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits";
constexpr const char* purge_attempts_sql = "DELETE FROM rate_limits WHERE window_start < $1";

}  // namespace

asio::awaitable<error_code> pg_store::put_signing_key(signing_key_record k) {
    return exec(put_key_sql, pg_params(k.kid, k.alg, k.private_pem, k.created_at, k.retired_at));
}
asio::awaitable<result<std::vector<signing_key_record>>> pg_store::list_signing_keys() {
    return all<signing_key_record>(list_keys_sql, pg_params(), key_from);
}
asio::awaitable<result<std::string>> pg_store::find_consent(std::string user_id, std::string client_id) {
    return one<std::string>(find_consent_sql, pg_params(user_id, client_id), scope_from);
}
asio::awaitable<error_code> pg_store::put_consent(std::string user_id, std::string client_id, std::string scope,
                                                  std::int64_t now) {
    return exec(put_consent_sql, pg_params(user_id, client_id, scope, now));
}
asio::awaitable<result<std::int64_t>> pg_store::count_attempt(std::string key, std::int64_t window_start) {
    pg_params p(key, window_start);
    auto rows = co_await run(count_attempt_sql, std::move(p));
    if (!rows) co_return rows.error();
    const std::int64_t hits = rows->int64(0, 0);
    if (hits == 1) {  // the key's first attempt in a new window: sweep the old ones
        pg_params older(window_start);
        if (auto ec = co_await exec(purge_attempts_sql, std::move(older))) co_return ec;
    }
    co_return hits;
}

}  // namespace detail

bool is_pg_uri(const std::string& location) {
    return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

result<std::unique_ptr<store>> open_pg_store(const std::string& conninfo, diagnostics& diag, pg_options options) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (c) detail::quiet_notices(c);
    std::string why = c ? PQerrorMessage(c) : "out of memory";
    const bool ok = c && PQstatus(c) == CONNECTION_OK && detail::pg_migrate(c, diag);
    if (c && PQstatus(c) != CONNECTION_OK) {
        for (auto& ch : why)  // libpq's message has several lines: one line for the log
            if (ch == '\n' || ch == '\t') ch = ' ';
        while (!why.empty() && why.back() == ' ') why.pop_back();
        diag.client_message = "cannot connect to the database: " + why;
    }
    PQfinish(c);
    if (!ok) return make_error_code(flows::server::server_errc::storage_failed);
    return std::unique_ptr<store>(new detail::pg_store(conninfo, options));
}

}  // namespace latchkey::transport::server
