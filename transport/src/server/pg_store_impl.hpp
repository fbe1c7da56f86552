// The PostgreSQL adapter of the storage port (pg_store.hpp): the class and its helpers.
//
// HOW TO ADD AN OPERATION (one SQL text + a row mapper):
//  1. Write the SQL as a `constexpr const char*` at namespace scope (it is prepared once per
//     connection, keyed by that pointer: never pass a temporary string). Parameters are $1..$n;
//     cast a parameter whose type PostgreSQL cannot infer from a column ($2::bigint + $3::bigint).
//     Something that must happen once is ONE statement: UPDATE ... WHERE <still unused>
//     RETURNING, a data-modifying WITH, INSERT ... ON CONFLICT. Only when C++ must decide
//     between a read and a write use a transaction (see poll_device: BEGIN, SELECT ... FOR
//     UPDATE, decide, UPDATE, COMMIT).
//  2. Map a row with a function `record from(const detail::pg_row& r)` (r.text(i), r.int64(i),
//     r.flag(i) read column i); reuse the *_columns lists so the order is written once.
//  3. Implement the override with a helper that takes a connection, runs, gives it back:
//       one<T>(sql, pg_params(a, b), from)    the first row, or not_found
//       all<T>(sql, pg_params(...), from)     every row
//       exec(sql, pg_params(...))             no rows wanted
//       changed(sql, pg_params(...))          the number of rows changed
//       changed_one(sql, pg_params(...))      not_found unless a row changed
//     Several statements on one connection: `auto c = co_await pool_.acquire();` then
//     `co_await q(**c, sql, params)` for each. Errors come back as server_errc: a unique or
//     foreign-key violation is already_exists, a dead server storage_failed (logged once a
//     second), no free connection in time busy.
//  4. Add a SECTION to tests/component/server_pg_store_test.cpp (or make the shared store
//     contract test cover it: it runs against both adapters).
#pragma once

#include "pg_conn.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/transport/server/pg_store.hpp>

#include <boost/asio/awaitable.hpp>

namespace latchkey::transport::server::detail {

namespace asio = boost::asio;
using namespace records;

class pg_store final : public store {
public:
    pg_store(std::string conninfo, pg_options o);

    std::size_t queued() const override { return pool_.in_use() + pool_.waiting(); }

    asio::awaitable<error_code> put_client(client_record c) override;
    asio::awaitable<result<client_record>> find_client(std::string id) override;
    asio::awaitable<result<std::vector<client_record>>> list_clients() override;
    asio::awaitable<error_code> delete_client(std::string id) override;
    asio::awaitable<error_code> update_client(client_record c) override;
    asio::awaitable<result<bool>> remember_jti(std::string hash, std::int64_t expires_at, std::int64_t now) override;

    asio::awaitable<error_code> put_user(user_record u) override;
    asio::awaitable<result<user_record>> find_user(std::string name) override;
    asio::awaitable<result<user_record>> find_user_by_id(std::string id) override;
    asio::awaitable<result<std::vector<user_record>>> list_users() override;
    asio::awaitable<error_code> delete_user(std::string name) override;
    asio::awaitable<error_code> set_user_role(std::string id, std::string role) override;
    asio::awaitable<error_code> ban_user(std::string id, std::string reason, std::int64_t expires,
                                         std::int64_t now) override;
    asio::awaitable<error_code> unban_user(std::string id) override;
    asio::awaitable<error_code> delete_user_sessions(std::string id) override;
    asio::awaitable<result<user_page>> page_users(std::int64_t limit, std::int64_t offset) override;

    asio::awaitable<error_code> put_signing_key(signing_key_record k) override;
    asio::awaitable<result<std::vector<signing_key_record>>> list_signing_keys() override;

    asio::awaitable<error_code> put_session(session_record s) override;
    asio::awaitable<result<session_record>> find_session(std::string hash, std::int64_t now) override;
    asio::awaitable<result<session_use_result>> use_session(std::string hash, std::int64_t now,
                                                            std::int64_t update_age, std::int64_t ttl) override;
    asio::awaitable<result<std::vector<session_record>>> list_sessions(std::string user_id,
                                                                       std::int64_t now) override;
    asio::awaitable<result<bool>> delete_session(std::string hash, std::string user_id) override;

    asio::awaitable<result<std::string>> find_consent(std::string user_id, std::string client_id) override;
    asio::awaitable<error_code> put_consent(std::string user_id, std::string client_id, std::string scope,
                                            std::int64_t now) override;

    asio::awaitable<error_code> put_code(code_record c) override;
    asio::awaitable<result<code_consume_result>> consume_code(std::string hash, std::int64_t now) override;
    asio::awaitable<error_code> put_refresh(refresh_record r) override;
    asio::awaitable<result<refresh_rotate_result>> rotate_refresh(std::string old_hash, refresh_record next,
                                                                  std::int64_t now) override;
    asio::awaitable<result<refresh_record>> find_refresh(std::string hash) override;
    asio::awaitable<result<bool>> revoke_refresh(std::string hash, std::string client_id, std::int64_t now) override;
    asio::awaitable<result<bool>> grant_revoked(std::string grant_id) override;

    asio::awaitable<error_code> put_device(device_record d, std::int64_t max_pending) override;
    asio::awaitable<result<device_record>> find_pending_device(std::string code, std::int64_t now) override;
    asio::awaitable<result<device_record>> answer_device(std::string code, std::string user_id, bool approve,
                                                         std::int64_t now, std::string organization_id) override;
    asio::awaitable<result<flows::server::device_poll_decision>> poll_device(std::string hash, std::string client_id,
                                                                             std::int64_t now) override;

    asio::awaitable<error_code> put_two_factor(two_factor_record t, std::vector<std::string> hashes) override;
    asio::awaitable<result<two_factor_record>> find_two_factor(std::string user_id) override;
    asio::awaitable<error_code> delete_two_factor(std::string user_id) override;
    asio::awaitable<result<bool>> accept_totp_step(std::string user_id, std::int64_t step, std::int64_t now) override;
    asio::awaitable<result<two_factor_record>> record_two_factor_failure(
        std::string user_id, std::int64_t now, flows::server::two_factor_lockout p) override;
    asio::awaitable<result<bool>> consume_backup_code(std::string user_id, std::string hash, std::int64_t now) override;
    asio::awaitable<error_code> replace_backup_codes(std::string user_id, std::vector<std::string> hashes) override;
    asio::awaitable<result<std::int64_t>> count_backup_codes(std::string user_id) override;
    asio::awaitable<error_code> put_challenge(two_factor_challenge c) override;
    asio::awaitable<result<two_factor_challenge>> find_challenge(std::string hash, std::int64_t now) override;
    asio::awaitable<result<bool>> delete_challenge(std::string hash) override;

    asio::awaitable<result<std::int64_t>> count_attempt(std::string key, std::int64_t window_start) override;

    asio::awaitable<error_code> update_user(user_record u) override;

    // ---- social login (pg_social.cpp) and organizations (pg_orgs.cpp)
    asio::awaitable<error_code> put_social_provider(social_provider_record p) override;
    asio::awaitable<result<std::vector<social_provider_record>>> list_social_providers() override;
    asio::awaitable<error_code> delete_social_provider(std::string name) override;
    asio::awaitable<result<account_user>> find_account(std::string provider_id, std::string account_id) override;
    asio::awaitable<result<user_record>> find_user_by_email(std::string email) override;
    asio::awaitable<error_code> link_account(account_record a, std::optional<user_record> new_user) override;
    asio::awaitable<error_code> create_organization(organization_record o, member_record owner) override;
    asio::awaitable<error_code> update_organization(organization_record o) override;
    asio::awaitable<error_code> delete_organization(std::string id) override;
    asio::awaitable<result<organization_view>> find_organization(std::string key, bool by_slug) override;
    asio::awaitable<result<std::vector<organization_record>>> list_organizations(std::string user_id) override;
    asio::awaitable<result<member_change>> change_member(std::string organization_id, std::string member_id,
                                                         std::string role) override;
    asio::awaitable<error_code> set_active_organization(std::string session_hash, std::string organization_id) override;
    asio::awaitable<error_code> put_invitation(invitation_record inv) override;
    asio::awaitable<result<invitation_record>> find_invitation(std::string id) override;
    asio::awaitable<result<std::vector<invitation_record>>> list_invitations(std::string organization_id,
                                                                             std::string email) override;
    asio::awaitable<result<invitation_answer_result>> answer_invitation(std::string id, invitation_answer answer,
                                                                        member_record member, std::int64_t now) override;

private:
    template <class T>
    using mapper = T (*)(const pg_row&);

    // One statement on a connection of the pool (taken, then given back).
    asio::awaitable<result<pg_rows>> run(const char* sql, pg_params p);
    // One statement on a connection the caller holds.
    asio::awaitable<result<pg_rows>> q(pg_conn& c, const char* sql, const pg_params& p);
    asio::awaitable<error_code> exec(const char* sql, pg_params p);
    asio::awaitable<result<std::int64_t>> changed(const char* sql, pg_params p);
    asio::awaitable<error_code> changed_one(const char* sql, pg_params p);
    // BEGIN ... COMMIT around statements on `c`: the connection is dropped (and so the
    // transaction rolled back by the server) when commit is not reached.
    asio::awaitable<error_code> begin(pg_conn& c);
    asio::awaitable<error_code> commit(pg_conn& c);
    asio::awaitable<error_code> rollback(pg_conn& c);
    // ROLLBACK on `c`, then `outcome` (a transaction that decided to write nothing).
    asio::awaitable<error_code> roll_back_with(pg_conn& c, error_code outcome);
    // Replaces the user's backup codes (inside the caller's transaction).
    asio::awaitable<error_code> put_backup_codes(pg_conn& c, const std::string& user_id,
                                                 const std::vector<std::string>& hashes);

    template <class T>
    asio::awaitable<result<T>> one(const char* sql, pg_params p, mapper<T> from) {
        auto rows = co_await run(sql, std::move(p));
        if (!rows) co_return rows.error();
        if (rows->size() == 0) co_return make_error_code(flows::server::server_errc::not_found);
        co_return from(pg_row{*rows, 0});
    }
    template <class T>
    asio::awaitable<result<std::vector<T>>> all(const char* sql, pg_params p, mapper<T> from) {
        auto rows = co_await run(sql, std::move(p));
        if (!rows) co_return rows.error();
        std::vector<T> out;
        out.reserve(static_cast<std::size_t>(rows->size()));
        for (int i = 0; i < rows->size(); ++i) out.push_back(from(pg_row{*rows, i}));
        co_return out;
    }

    pg_pool pool_;
};

// An error as result<bool> (a plain error_code would be read as a bool).
inline result<bool> bool_failure(error_code ec) {
    return result<bool>(boost::system::in_place_error, ec);
}

// The users columns (table alias u) in pg_user_from's order, which reads them from column `first`.
#define LATCH_PG_USER_COLUMNS \
    "u.id, u.username, u.password_hash, u.created_at, u.name, u.email, u.role, u.banned, u.ban_reason, u.ban_expires"
user_record pg_user_from(const pg_row& r, int first);
inline user_record pg_user_at0(const pg_row& r) { return pg_user_from(r, 0); }
// Inserts a user: the statement and its parameters (put_user, and link_account's new user).
extern const char* const pg_put_user_sql;
pg_params pg_user_params(const user_record& u);

// The migrations (schema.hpp) on a blocking connection, under an advisory lock.
bool pg_migrate(PGconn* c, diagnostics& diag);

}  // namespace latchkey::transport::server::detail
