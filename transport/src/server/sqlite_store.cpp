// The storage port on SQLite: every write runs on the DB thread (sqlite_ops.hpp); the point
// reads of every request (a session's look-up, a client's) run on a second, read-only
// connection on a thread of its own. In WAL mode that reader never waits for the writer's
// commit (an fsync with synchronous=FULL), so sign-ins committing sessions do not delay
// get-session or the token endpoint behind them.
#include <latchkey/transport/server/sqlite_store.hpp>

#include "offload.hpp"
#include "sqlite_ops.hpp"

namespace latchkey::transport::server {
namespace {

namespace asio = boost::asio;
using namespace records;

class sqlite_store final : public store {
public:
    sqlite_store(std::unique_ptr<detail::sqlite_db> db, std::unique_ptr<detail::sqlite_db> reader, sqlite_options o)
        : db_(std::move(db)), reader_(std::move(reader)), pool_(1, o.max_queued), reads_(1, o.max_queued) {}

    asio::awaitable<error_code> put_client(client_record c) override {
        return pool_.run<error_code>([this, c = std::move(c)] { return detail::put_client(*db_, c); });
    }
    asio::awaitable<result<client_record>> find_client(std::string id) override {
        return reads_.run<result<client_record>>([this, id = std::move(id)] { return detail::find_client(*reader_, id); });
    }
    asio::awaitable<result<std::vector<client_record>>> list_clients() override {
        return pool_.run<result<std::vector<client_record>>>([this] { return detail::list_clients(*db_); });
    }
    asio::awaitable<error_code> delete_client(std::string id) override {
        return pool_.run<error_code>([this, id = std::move(id)] { return detail::delete_client(*db_, id); });
    }

    asio::awaitable<error_code> update_client(client_record c) override {
        return pool_.run<error_code>([this, c = std::move(c)] { return detail::update_client(*db_, c); });
    }
    asio::awaitable<result<bool>> remember_jti(std::string hash, std::int64_t expires_at, std::int64_t now) override {
        return pool_.run<result<bool>>(
            [this, hash = std::move(hash), expires_at, now] { return detail::remember_jti(*db_, hash, expires_at, now); });
    }

    asio::awaitable<error_code> put_user(user_record u) override {
        return pool_.run<error_code>([this, u = std::move(u)] { return detail::put_user(*db_, u); });
    }
    asio::awaitable<result<user_record>> find_user(std::string name) override {
        return pool_.run<result<user_record>>([this, name = std::move(name)] { return detail::find_user(*db_, name); });
    }
    asio::awaitable<result<user_record>> find_user_by_id(std::string id) override {
        return pool_.run<result<user_record>>([this, id = std::move(id)] { return detail::find_user_by_id(*db_, id); });
    }
    asio::awaitable<result<std::vector<user_record>>> list_users() override {
        return pool_.run<result<std::vector<user_record>>>([this] { return detail::list_users(*db_); });
    }
    asio::awaitable<error_code> delete_user(std::string name) override {
        return pool_.run<error_code>([this, name = std::move(name)] { return detail::delete_user(*db_, name); });
    }

    asio::awaitable<error_code> update_user(user_record u) override {
        return pool_.run<error_code>([this, u = std::move(u)] { return detail::update_user(*db_, u); });
    }
    asio::awaitable<error_code> set_user_role(std::string id, std::string role) override {
        return pool_.run<error_code>(
            [this, id = std::move(id), role = std::move(role)] { return detail::set_user_role(*db_, id, role); });
    }
    asio::awaitable<error_code> ban_user(std::string id, std::string reason, std::int64_t expires,
                                         std::int64_t now) override {
        return pool_.run<error_code>([this, id = std::move(id), reason = std::move(reason), expires, now] {
            return detail::ban_user(*db_, id, reason, expires, now);
        });
    }
    asio::awaitable<error_code> unban_user(std::string id) override {
        return pool_.run<error_code>([this, id = std::move(id)] { return detail::unban_user(*db_, id); });
    }
    asio::awaitable<error_code> delete_user_sessions(std::string id) override {
        return pool_.run<error_code>([this, id = std::move(id)] { return detail::delete_user_sessions(*db_, id); });
    }
    asio::awaitable<result<user_page>> page_users(std::int64_t limit, std::int64_t offset) override {
        return pool_.run<result<user_page>>([this, limit, offset] { return detail::page_users(*db_, limit, offset); });
    }

    asio::awaitable<error_code> put_signing_key(signing_key_record k) override {
        return pool_.run<error_code>([this, k = std::move(k)] { return detail::put_signing_key(*db_, k); });
    }
    asio::awaitable<result<std::vector<signing_key_record>>> list_signing_keys() override {
        return pool_.run<result<std::vector<signing_key_record>>>([this] { return detail::list_signing_keys(*db_); });
    }

    asio::awaitable<error_code> put_session(session_record s) override {
        return pool_.run<error_code>([this, s = std::move(s)] { return detail::put_session(*db_, s); });
    }
    asio::awaitable<result<session_record>> find_session(std::string hash, std::int64_t now) override {
        return pool_.run<result<session_record>>(
            [this, hash = std::move(hash), now] { return detail::find_session(*db_, hash, now); });
    }

    asio::awaitable<result<session_use_result>> use_session(std::string hash, std::int64_t now,
                                                            std::int64_t update_age, std::int64_t ttl) override;
    asio::awaitable<result<std::vector<session_record>>> list_sessions(std::string user_id,
                                                                       std::int64_t now) override {
        return pool_.run<result<std::vector<session_record>>>(
            [this, user_id = std::move(user_id), now] { return detail::list_sessions(*db_, user_id, now); });
    }
    asio::awaitable<result<bool>> delete_session(std::string hash, std::string user_id) override {
        return pool_.run<result<bool>>([this, hash = std::move(hash), user_id = std::move(user_id)] {
            return detail::delete_session(*db_, hash, user_id);
        });
    }

    asio::awaitable<result<std::string>> find_consent(std::string user_id, std::string client_id) override {
        return pool_.run<result<std::string>>([this, user_id = std::move(user_id), client_id = std::move(client_id)] {
            return detail::find_consent(*db_, user_id, client_id);
        });
    }
    asio::awaitable<error_code> put_consent(std::string user_id, std::string client_id, std::string scope,
                                            std::int64_t now) override {
        return pool_.run<error_code>(
            [this, user_id = std::move(user_id), client_id = std::move(client_id), scope = std::move(scope), now] {
                return detail::put_consent(*db_, user_id, client_id, scope, now);
            });
    }

    asio::awaitable<error_code> put_code(code_record c) override {
        return pool_.run<error_code>([this, c = std::move(c)] { return detail::put_code(*db_, c); });
    }
    asio::awaitable<result<code_consume_result>> consume_code(std::string hash, std::int64_t now) override {
        return pool_.run<result<code_consume_result>>(
            [this, hash = std::move(hash), now] { return detail::consume_code(*db_, hash, now); });
    }

    asio::awaitable<error_code> put_refresh(refresh_record r) override {
        return pool_.run<error_code>([this, r = std::move(r)] { return detail::put_refresh(*db_, r); });
    }
    asio::awaitable<result<refresh_rotate_result>> rotate_refresh(std::string old_hash, refresh_record next,
                                                                  std::int64_t now) override {
        return pool_.run<result<refresh_rotate_result>>(
            [this, old_hash = std::move(old_hash), next = std::move(next), now] {
                return detail::rotate_refresh(*db_, old_hash, next, now);
            });
    }

    asio::awaitable<result<refresh_record>> find_refresh(std::string hash) override {
        return pool_.run<result<refresh_record>>([this, hash = std::move(hash)] { return detail::find_refresh(*db_, hash); });
    }
    asio::awaitable<result<bool>> grant_revoked(std::string grant_id) override {
        return pool_.run<result<bool>>([this, grant_id = std::move(grant_id)] { return detail::grant_revoked(*db_, grant_id); });
    }
    asio::awaitable<result<bool>> revoke_refresh(std::string hash, std::string client_id, std::int64_t now) override {
        return pool_.run<result<bool>>([this, hash = std::move(hash), client_id = std::move(client_id), now] {
            return detail::revoke_refresh(*db_, hash, client_id, now);
        });
    }
    asio::awaitable<error_code> put_device(device_record d, std::int64_t max_pending) override {
        return pool_.run<error_code>(
            [this, d = std::move(d), max_pending] { return detail::put_device(*db_, d, max_pending); });
    }
    asio::awaitable<result<device_record>> find_pending_device(std::string code, std::int64_t now) override {
        return pool_.run<result<device_record>>(
            [this, code = std::move(code), now] { return detail::find_pending_device(*db_, code, now); });
    }
    asio::awaitable<result<device_record>> answer_device(std::string code, std::string user_id, bool approve,
                                                         std::int64_t now, std::string organization_id) override {
        return pool_.run<result<device_record>>([this, code = std::move(code), user_id = std::move(user_id),
                                                 approve, now, org = std::move(organization_id)] {
            return detail::answer_device(*db_, code, user_id, approve, now, org);
        });
    }
    asio::awaitable<result<flows::server::device_poll_decision>> poll_device(std::string hash, std::string client_id,
                                                                             std::int64_t now) override {
        return pool_.run<result<flows::server::device_poll_decision>>(
            [this, hash = std::move(hash), client_id = std::move(client_id), now] {
                return detail::poll_device(*db_, hash, client_id, now);
            });
    }

    asio::awaitable<error_code> put_two_factor(two_factor_record t, std::vector<std::string> hashes) override {
        return pool_.run<error_code>(
            [this, t = std::move(t), hashes = std::move(hashes)] { return detail::put_two_factor(*db_, t, hashes); });
    }
    asio::awaitable<result<two_factor_record>> find_two_factor(std::string user_id) override {
        return pool_.run<result<two_factor_record>>(
            [this, user_id = std::move(user_id)] { return detail::find_two_factor(*db_, user_id); });
    }
    asio::awaitable<error_code> delete_two_factor(std::string user_id) override {
        return pool_.run<error_code>([this, user_id = std::move(user_id)] { return detail::delete_two_factor(*db_, user_id); });
    }
    asio::awaitable<result<bool>> accept_totp_step(std::string user_id, std::int64_t step, std::int64_t now) override {
        return pool_.run<result<bool>>(
            [this, user_id = std::move(user_id), step, now] { return detail::accept_totp_step(*db_, user_id, step, now); });
    }
    asio::awaitable<result<two_factor_record>> record_two_factor_failure(
        std::string user_id, std::int64_t now, flows::server::two_factor_lockout p) override {
        return pool_.run<result<two_factor_record>>([this, user_id = std::move(user_id), now, p] {
            return detail::record_two_factor_failure(*db_, user_id, now, p);
        });
    }
    asio::awaitable<result<bool>> consume_backup_code(std::string user_id, std::string hash, std::int64_t now) override {
        return pool_.run<result<bool>>([this, user_id = std::move(user_id), hash = std::move(hash), now] {
            return detail::consume_backup_code(*db_, user_id, hash, now);
        });
    }
    asio::awaitable<error_code> replace_backup_codes(std::string user_id, std::vector<std::string> hashes) override {
        return pool_.run<error_code>([this, user_id = std::move(user_id), hashes = std::move(hashes)] {
            return detail::replace_backup_codes(*db_, user_id, hashes);
        });
    }
    asio::awaitable<result<std::int64_t>> count_backup_codes(std::string user_id) override {
        return pool_.run<result<std::int64_t>>(
            [this, user_id = std::move(user_id)] { return detail::count_backup_codes(*db_, user_id); });
    }
    asio::awaitable<error_code> put_challenge(two_factor_challenge c) override {
        return pool_.run<error_code>([this, c = std::move(c)] { return detail::put_challenge(*db_, c); });
    }
    asio::awaitable<result<two_factor_challenge>> find_challenge(std::string hash, std::int64_t now) override {
        return pool_.run<result<two_factor_challenge>>(
            [this, hash = std::move(hash), now] { return detail::find_challenge(*db_, hash, now); });
    }
    asio::awaitable<result<bool>> delete_challenge(std::string hash) override {
        return pool_.run<result<bool>>([this, hash = std::move(hash)] { return detail::delete_challenge(*db_, hash); });
    }

    asio::awaitable<error_code> put_social_provider(social_provider_record p) override {
        return pool_.run<error_code>([this, p = std::move(p)] { return detail::put_social_provider(*db_, p); });
    }
    asio::awaitable<result<std::vector<social_provider_record>>> list_social_providers() override {
        return reads_.run<result<std::vector<social_provider_record>>>(
            [this] { return detail::list_social_providers(*reader_); });
    }
    asio::awaitable<error_code> delete_social_provider(std::string name) override {
        return pool_.run<error_code>([this, name = std::move(name)] { return detail::delete_social_provider(*db_, name); });
    }
    asio::awaitable<result<account_user>> find_account(std::string provider_id, std::string account_id) override {
        return pool_.run<result<account_user>>([this, provider_id = std::move(provider_id),
                                                account_id = std::move(account_id)] {
            return detail::find_account(*db_, provider_id, account_id);
        });
    }
    asio::awaitable<result<user_record>> find_user_by_email(std::string email) override {
        return pool_.run<result<user_record>>([this, email = std::move(email)] { return detail::find_user_by_email(*db_, email); });
    }
    asio::awaitable<error_code> link_account(account_record a, std::optional<user_record> new_user) override {
        return pool_.run<error_code>([this, a = std::move(a), new_user = std::move(new_user)] {
            return detail::link_account(*db_, a, new_user);
        });
    }
    asio::awaitable<error_code> create_organization(organization_record o, member_record owner) override {
        return pool_.run<error_code>([this, o = std::move(o), owner = std::move(owner)] {
            return detail::create_organization(*db_, o, owner);
        });
    }
    asio::awaitable<error_code> update_organization(organization_record o) override {
        return pool_.run<error_code>([this, o = std::move(o)] { return detail::update_organization(*db_, o); });
    }
    asio::awaitable<error_code> delete_organization(std::string id) override {
        return pool_.run<error_code>([this, id = std::move(id)] { return detail::delete_organization(*db_, id); });
    }
    asio::awaitable<result<organization_view>> find_organization(std::string key, bool by_slug) override {
        return reads_.run<result<organization_view>>(
            [this, key = std::move(key), by_slug] { return detail::find_organization(*reader_, key, by_slug); });
    }
    asio::awaitable<result<std::vector<organization_record>>> list_organizations(std::string user_id) override {
        return reads_.run<result<std::vector<organization_record>>>(
            [this, user_id = std::move(user_id)] { return detail::list_organizations(*reader_, user_id); });
    }
    asio::awaitable<result<member_change>> change_member(std::string org_id, std::string member_id,
                                                         std::string role) override {
        return pool_.run<result<member_change>>(
            [this, org_id = std::move(org_id), member_id = std::move(member_id), role = std::move(role)] {
                return detail::change_member(*db_, org_id, member_id, role);
            });
    }
    asio::awaitable<error_code> set_active_organization(std::string hash, std::string org_id) override {
        return pool_.run<error_code>([this, hash = std::move(hash), org_id = std::move(org_id)] {
            return detail::set_active_organization(*db_, hash, org_id);
        });
    }
    asio::awaitable<error_code> put_invitation(invitation_record i) override {
        return pool_.run<error_code>([this, i = std::move(i)] { return detail::put_invitation(*db_, i); });
    }
    asio::awaitable<result<invitation_record>> find_invitation(std::string id) override {
        return reads_.run<result<invitation_record>>(
            [this, id = std::move(id)] { return detail::find_invitation(*reader_, id); });
    }
    asio::awaitable<result<std::vector<invitation_record>>> list_invitations(std::string org_id,
                                                                             std::string email) override {
        return reads_.run<result<std::vector<invitation_record>>>(
            [this, org_id = std::move(org_id), email = std::move(email)] {
                return detail::list_invitations(*reader_, org_id, email);
            });
    }
    asio::awaitable<result<invitation_answer_result>> answer_invitation(std::string id, invitation_answer answer,
                                                                        member_record member,
                                                                        std::int64_t now) override {
        return pool_.run<result<invitation_answer_result>>(
            [this, id = std::move(id), answer, member = std::move(member), now] {
                return detail::answer_invitation(*db_, id, answer, member, now);
            });
    }
    asio::awaitable<result<std::int64_t>> count_attempt(std::string key, std::int64_t window_start) override {
        return pool_.run<result<std::int64_t>>(
            [this, key = std::move(key), window_start] { return detail::count_attempt(*db_, key, window_start); });
    }

    std::size_t queued() const override { return pool_.in_flight() + reads_.in_flight(); }

private:
    // The connections are declared first: destroyed after the threads joined.
    std::unique_ptr<detail::sqlite_db> db_;      // the writer (and every read of a write)
    std::unique_ptr<detail::sqlite_db> reader_;  // query_only
    detail::offload_pool pool_;                  // db_'s thread
    detail::offload_pool reads_;                 // reader_'s thread
};

// The look-up on the reader; the sliding extension (at most once a day per session) on the
// writer. Named locals, not temporaries, in co_await expressions (GCC 12, see offload.hpp).
asio::awaitable<result<session_use_result>> sqlite_store::use_session(std::string hash, std::int64_t now,
                                                                      std::int64_t update_age, std::int64_t ttl) {
    auto look_up = [this, hash, now] { return detail::find_live_session(*reader_, hash, now); };
    auto found_op = reads_.run<result<session_use_result>>(std::move(look_up));
    auto found = co_await std::move(found_op);
    if (!found || now - found->session.updated_at < update_age) co_return std::move(found);
    auto extend = [this, hash = std::move(hash), now, ttl] { return detail::extend_session(*db_, hash, now, ttl); };
    auto extend_op = pool_.run<result<bool>>(std::move(extend));
    auto extended = co_await std::move(extend_op);
    if (!extended || !*extended) {  // an error, or the session went away meanwhile
        const error_code ec = extended ? make_error_code(flows::server::server_errc::not_found) : extended.error();
        co_return detail::failure<result<session_use_result>>(ec);
    }
    detail::mark_extended(*found, now, ttl);
    co_return std::move(found);
}

}  // namespace

result<std::unique_ptr<store>> open_sqlite_store(const std::string& path, diagnostics& diag,
                                                 sqlite_options options) {
    auto db = detail::sqlite_db::open(path, diag);
    if (!db) return db.error();
    auto reader = detail::sqlite_db::open(path, diag);  // migrated already: nothing to apply
    if (!reader) return reader.error();
    if (!(*reader)->exec("PRAGMA query_only=ON")) {
        diag.client_message = "cannot set up the database " + path + ": " + (*reader)->last_error();
        return make_error_code(flows::server::server_errc::storage_failed);
    }
    return std::unique_ptr<store>(new sqlite_store(std::move(*db), std::move(*reader), options));
}

}  // namespace latchkey::transport::server
