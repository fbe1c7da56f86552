// The single-use steps on PostgreSQL (pg_store_impl.hpp): code redemption and refresh
// rotation are each decided by ONE conditional UPDATE ... RETURNING (… AND consumed_at = 0):
// under READ COMMITTED a concurrent second UPDATE waits for the first's row lock, re-checks
// the condition on the committed row and matches nothing, so of N redemptions across any
// number of replicas exactly one gets its row back. Rotation inserts the successor in the
// same statement. What follows a miss (telling replayed from expired, revoking a replayed
// grant) only ever moves a row forward, so it needs no transaction of its own. Device
// codes: the poll is a transaction with SELECT ... FOR UPDATE around the pure decision.
#include "pg_store_impl.hpp"

namespace latchkey::transport::server::detail {

using flows::server::server_errc;

namespace {

#define LATCH_CODE_COLUMNS                                                                                   \
    "code_hash, grant_id, client_id, user_id, redirect_uri, scope, nonce, code_challenge, expires_at, consumed_at, " \
    "organization_id"
#define LATCH_REFRESH_COLUMNS \
    "token_hash, family_id, client_id, user_id, scope, expires_at, rotated_at, revoked_at, organization_id, jkt"

code_record code_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4),
            r.text(5), r.text(6), r.text(7), r.int64(8), r.int64(9), r.text(10)};
}
refresh_record refresh_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.int64(5), r.int64(6), r.int64(7), r.text(8),
            r.text(9)};
}

constexpr const char* put_code_sql =
    "INSERT INTO auth_codes (" LATCH_CODE_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
constexpr const char* consume_code_sql =
    "UPDATE auth_codes SET consumed_at = $2 WHERE code_hash = $1 AND consumed_at = 0 AND expires_at > $2 "
    "RETURNING " LATCH_CODE_COLUMNS;
constexpr const char* find_code_sql = "SELECT " LATCH_CODE_COLUMNS " FROM auth_codes WHERE code_hash = $1";
// RFC 6749 §4.1.2 / RFC 9700 §4.14.2: the family's tokens and the grant's access tokens.
constexpr const char* revoke_family_sql =
    "WITH r AS (UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at = 0) "
    "INSERT INTO revoked_grants (grant_id, revoked_at) VALUES ($1, $2) ON CONFLICT DO NOTHING";

constexpr const char* put_refresh_sql =
    "INSERT INTO refresh_tokens (" LATCH_REFRESH_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
// Only the client it was issued to may rotate it (RFC 6749 §6); the successor keeps the family
// (and its user, scope and organization).
constexpr const char* rotate_refresh_sql =
    "WITH old AS (UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1 AND client_id = $3 AND "
    "rotated_at = 0 AND revoked_at = 0 AND expires_at > $2 RETURNING " LATCH_REFRESH_COLUMNS "), "
    "nxt AS (INSERT INTO refresh_tokens (" LATCH_REFRESH_COLUMNS ") SELECT $4, family_id, client_id, user_id, "
    "scope, $5::bigint, 0, 0, organization_id, jkt FROM old) SELECT " LATCH_REFRESH_COLUMNS " FROM old";
constexpr const char* find_own_refresh_sql =
    "SELECT " LATCH_REFRESH_COLUMNS " FROM refresh_tokens WHERE token_hash = $1 AND client_id = $2";
constexpr const char* find_refresh_sql = "SELECT " LATCH_REFRESH_COLUMNS " FROM refresh_tokens WHERE token_hash = $1";
// RFC 7009: the family of the client's own token; counts: (token found, rows revoked).
constexpr const char* revoke_refresh_sql =
    "WITH f AS (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND client_id = $2), "
    "r AS (UPDATE refresh_tokens SET revoked_at = $3 WHERE revoked_at = 0 AND family_id IN (SELECT family_id FROM f) "
    "RETURNING 1), g AS (INSERT INTO revoked_grants (grant_id, revoked_at) SELECT family_id, $3::bigint FROM f "
    "ON CONFLICT DO NOTHING) SELECT (SELECT COUNT(*) FROM f), (SELECT COUNT(*) FROM r)";
constexpr const char* grant_revoked_sql = "SELECT 1 FROM revoked_grants WHERE grant_id = $1";

}  // namespace

asio::awaitable<error_code> pg_store::put_code(code_record c) {
    pg_params p(c.code_hash, c.grant_id, c.client_id, c.user_id, c.redirect_uri, c.scope, c.nonce, c.code_challenge,
                c.expires_at, c.consumed_at, c.organization_id);
    return exec(put_code_sql, std::move(p));
}

asio::awaitable<result<code_consume_result>> pg_store::consume_code(std::string hash, std::int64_t now) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    const pg_params p(hash, now);
    auto won = co_await q(**lease, consume_code_sql, p);
    if (!won) co_return won.error();
    if (won->size() == 1) co_return code_consume_result{consume_status::consumed, code_from(pg_row{*won, 0})};
    const pg_params by_hash(hash);
    auto seen = co_await q(**lease, find_code_sql, by_hash);
    if (!seen) co_return seen.error();
    code_consume_result out;
    if (seen->size() == 0) co_return out;  // unknown
    out.code = code_from(pg_row{*seen, 0});
    out.status = out.code.consumed_at != 0 ? consume_status::replayed : consume_status::expired;
    if (out.status == consume_status::replayed) {
        const pg_params family(out.code.grant_id, now);
        auto revoked = co_await q(**lease, revoke_family_sql, family);
        if (!revoked) co_return revoked.error();
    }
    co_return out;
}

asio::awaitable<error_code> pg_store::put_refresh(refresh_record r) {
    pg_params p(r.token_hash, r.family_id, r.client_id, r.user_id, r.scope, r.expires_at, r.rotated_at, r.revoked_at,
                r.organization_id, r.jkt);
    return exec(put_refresh_sql, std::move(p));
}

asio::awaitable<result<refresh_rotate_result>> pg_store::rotate_refresh(std::string old_hash, refresh_record next,
                                                                        std::int64_t now) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    const pg_params p(old_hash, now, next.client_id, next.token_hash, next.expires_at);
    auto won = co_await q(**lease, rotate_refresh_sql, p);
    if (!won) co_return won.error();
    if (won->size() == 1) co_return refresh_rotate_result{consume_status::consumed, refresh_from(pg_row{*won, 0})};
    const pg_params own(old_hash, next.client_id);
    auto seen = co_await q(**lease, find_own_refresh_sql, own);
    if (!seen) co_return seen.error();
    refresh_rotate_result out;
    if (seen->size() == 0) co_return out;  // unknown (or another client's)
    out.old_token = refresh_from(pg_row{*seen, 0});
    out.status = out.old_token.rotated_at != 0 ? consume_status::replayed : consume_status::expired;
    // RFC 9700 §4.14.2: a rotated token presented again means one of two holders is an
    // attacker; revoke the whole family.
    if (out.status == consume_status::replayed) {
        const pg_params family(out.old_token.family_id, now);
        auto revoked = co_await q(**lease, revoke_family_sql, family);
        if (!revoked) co_return revoked.error();
    }
    co_return out;
}

asio::awaitable<result<refresh_record>> pg_store::find_refresh(std::string hash) {
    return one<refresh_record>(find_refresh_sql, pg_params(hash), refresh_from);
}

asio::awaitable<result<bool>> pg_store::revoke_refresh(std::string hash, std::string client_id, std::int64_t now) {
    pg_params p(hash, client_id, now);
    auto rows = co_await run(revoke_refresh_sql, std::move(p));
    if (!rows) co_return bool_failure(rows.error());
    if (rows->int64(0, 0) == 0) co_return false;
    co_return rows->int64(0, 1) > 0;
}

asio::awaitable<result<bool>> pg_store::grant_revoked(std::string grant_id) {
    pg_params p(grant_id);
    auto rows = co_await run(grant_revoked_sql, std::move(p));
    if (!rows) co_return bool_failure(rows.error());
    co_return rows->size() > 0;
}

// ---- device authorization (RFC 8628)

namespace {

#define LATCH_DEVICE_COLUMNS                                                                                       \
    "device_code_hash, user_code, client_id, scope, status, user_id, requester_ip, requester_ua, created_at, "     \
    "expires_at, poll_interval, last_poll_at, organization_id"

device_record device_from(const pg_row& r) {
    return {r.text(0), r.text(1), r.text(2), r.text(3), r.text(4),   r.text(5),
            r.text(6), r.text(7), r.int64(8), r.int64(9), r.int64(10), r.int64(11), r.text(12)};
}

// Inserted only while fewer than $14 are pending (a soft bound: replicas inserting at the
// same instant may pass it by one each). No row inserted: busy.
constexpr const char* put_device_sql =
    "INSERT INTO device_codes (" LATCH_DEVICE_COLUMNS ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::bigint, "
    "$10::bigint, $11::bigint, $12::bigint, $13 WHERE (SELECT COUNT(*) FROM device_codes WHERE status = 'pending' "
    "AND expires_at > $9::bigint) < $14::bigint";
constexpr const char* find_pending_device_sql = "SELECT " LATCH_DEVICE_COLUMNS
                                                " FROM device_codes WHERE user_code = $1 AND status = 'pending' AND "
                                                "expires_at > $2";
constexpr const char* answer_device_sql =
    "UPDATE device_codes SET status = $3, user_id = $4, organization_id = $5 WHERE user_code = $1 AND "
    "status = 'pending' AND expires_at > $2 RETURNING " LATCH_DEVICE_COLUMNS;
constexpr const char* lock_device_sql =
    "SELECT " LATCH_DEVICE_COLUMNS " FROM device_codes WHERE device_code_hash = $1 FOR UPDATE";
constexpr const char* update_device_sql =
    "UPDATE device_codes SET status = $2, poll_interval = $3, last_poll_at = $4 WHERE device_code_hash = $1";

}  // namespace

asio::awaitable<error_code> pg_store::put_device(device_record d, std::int64_t max_pending) {
    pg_params p(d.device_code_hash, d.user_code, d.client_id, d.scope, d.status, d.user_id, d.requester_ip,
                d.requester_ua, d.created_at, d.expires_at, d.interval, d.last_poll_at, d.organization_id, max_pending);
    auto n = co_await changed(put_device_sql, std::move(p));
    if (!n) co_return n.error();
    co_return *n == 1 ? error_code{} : make_error_code(server_errc::busy);
}

asio::awaitable<result<device_record>> pg_store::find_pending_device(std::string code, std::int64_t now) {
    return one<device_record>(find_pending_device_sql, pg_params(code, now), device_from);
}

asio::awaitable<result<device_record>> pg_store::answer_device(std::string code, std::string user_id, bool approve,
                                                               std::int64_t now, std::string organization_id) {
    const char* status = approve ? "approved" : "denied";
    return one<device_record>(answer_device_sql, pg_params(code, now, status, user_id, organization_id), device_from);
}

// Polls of one device code are serialised by the row lock, so exactly one redeems and a
// slow_down is persisted before the next poll reads it.
asio::awaitable<result<flows::server::device_poll_decision>> pg_store::poll_device(std::string hash,
                                                                                   std::string client_id,
                                                                                   std::int64_t now) {
    auto lease = co_await pool_.acquire();
    if (!lease) co_return lease.error();
    pg_conn& c = **lease;
    if (auto ec = co_await begin(c)) co_return ec;
    const pg_params by_hash(hash);
    auto rows = co_await q(c, lock_device_sql, by_hash);
    if (!rows) {
        c.mark_broken();  // the server rolls back when the connection goes
        co_return rows.error();
    }
    if (rows->size() == 0) {
        if (auto ec = co_await rollback(c)) co_return ec;
        co_return make_error_code(server_errc::not_found);
    }
    auto d = flows::server::decide_device_poll(device_from(pg_row{*rows, 0}), client_id, now);
    if (d.write) {
        const pg_params p(hash, d.updated.status, d.updated.interval, d.updated.last_poll_at);
        auto updated = co_await q(c, update_device_sql, p);
        if (!updated) {
            c.mark_broken();
            co_return updated.error();
        }
    }
    if (auto ec = co_await commit(c)) co_return ec;
    co_return d;
}

}  // namespace latchkey::transport::server::detail
