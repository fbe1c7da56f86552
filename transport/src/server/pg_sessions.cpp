// Browser sessions and sign-in challenges' neighbours on PostgreSQL (pg_store_impl.hpp).
// use_session is one statement: the look-up and, when due, the sliding extension.
#include "pg_store_impl.hpp"

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

#define LATCH_SESSION_COLUMNS \
    "s.token_hash, s.user_id, s.ip, s.user_agent, s.created_at, s.updated_at, s.expires_at, s.active_organization_id"

session_record session_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.text(3), r.int64(4), r.int64(5), r.int64(6), r.text(7)};
}

constexpr const char* put_session_sql =
    "INSERT INTO sessions (token_hash, user_id, ip, user_agent, created_at, updated_at, expires_at, "
    "active_organization_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
constexpr const char* find_session_sql =
    "SELECT " LATCH_SESSION_COLUMNS " FROM sessions s WHERE s.token_hash = $1 AND s.expires_at > $2";
// The snapshot both parts see is the same: `hit` returns the row as it was, and the last
// column says whether `ext` moved it (to $2 + ttl; two concurrent uses land on the same).
constexpr const char* use_session_sql =
    "WITH hit AS (SELECT " LATCH_SESSION_COLUMNS ", " LATCH_PG_USER_COLUMNS
    " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2), "
    "ext AS (UPDATE sessions SET updated_at = $2, expires_at = $2::bigint + $4::bigint WHERE token_hash = $1 "
    "AND expires_at > $2 AND updated_at <= $2::bigint - $3::bigint RETURNING 1) "
    "SELECT hit.*, (SELECT COUNT(*) FROM ext) FROM hit";
constexpr const char* list_sessions_sql =
    "SELECT " LATCH_SESSION_COLUMNS " FROM sessions s WHERE s.user_id = $1 AND s.expires_at > $2 "
    "ORDER BY s.created_at DESC, s.token_hash";
constexpr const char* delete_session_sql = "DELETE FROM sessions WHERE token_hash = $1 AND ($2 = '' OR user_id = $2)";

}  // namespace

asio::awaitable<error_code> pg_store::put_session(session_record s) {
    pg_params p(s.token_hash, s.user_id, s.ip, s.user_agent, s.created_at, s.updated_at, s.expires_at,
                s.active_organization_id);
    return exec(put_session_sql, std::move(p));
}

asio::awaitable<result<session_record>> pg_store::find_session(std::string hash, std::int64_t now) {
    return one<session_record>(find_session_sql, pg_params(hash, now), session_from);
}

asio::awaitable<result<session_use_result>> pg_store::use_session(std::string hash, std::int64_t now,
                                                                  std::int64_t update_age, std::int64_t ttl) {
    pg_params p(hash, now, update_age, ttl);
    auto rows = co_await run(use_session_sql, std::move(p));
    if (!rows) co_return rows.error();
    if (rows->size() == 0) co_return make_error_code(server_errc::not_found);
    const pg_row r{*rows, 0};
    session_use_result out;
    out.session = session_from(r);
    out.user = pg_user_from(r, 8);
    if (r.int64(18) > 0) {
        out.session.updated_at = now;
        out.session.expires_at = now + ttl;
        out.extended = true;
    }
    co_return out;
}

asio::awaitable<result<std::vector<session_record>>> pg_store::list_sessions(std::string user_id, std::int64_t now) {
    return all<session_record>(list_sessions_sql, pg_params(user_id, now), session_from);
}

asio::awaitable<result<bool>> pg_store::delete_session(std::string hash, std::string user_id) {
    pg_params p(hash, user_id);
    auto n = co_await changed(delete_session_sql, std::move(p));
    if (!n) co_return bool_failure(n.error());
    co_return *n > 0;
}

}  // namespace latchkey::transport::server::detail
