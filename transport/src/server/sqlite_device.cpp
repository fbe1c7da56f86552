// Device authorizations on SQLite (sqlite_ops.hpp). The poll runs the pure decision
// (flows/server/device_grant.hpp) between a read and a write inside one BEGIN IMMEDIATE
// transaction: concurrent polls are serialised, so one redeems and slow_down is persisted.
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;
using records::device_record;

namespace {

constexpr const char* device_columns =
    "device_code_hash, user_code, client_id, scope, status, user_id, requester_ip, requester_ua, created_at, "
    "expires_at, poll_interval, last_poll_at, organization_id";

device_record device_from(const stmt& s) {
    return {s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5),
            s.text(6), s.text(7), s.int64(8), s.int64(9), s.int64(10), s.int64(11), s.text(12)};
}

}  // namespace

static error_code insert_device(sqlite_db& db, const device_record& d);

error_code put_device(sqlite_db& db, const device_record& d, std::int64_t max_pending) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    {
        auto c = db.prepare("SELECT COUNT(*) FROM device_codes WHERE status = 'pending' AND expires_at > ?1");
        c.bind(1, d.created_at);
        if (c.step() != SQLITE_ROW) return make_error_code(server_errc::storage_failed);
        if (c.int64(0) >= max_pending) return make_error_code(server_errc::busy);
    }
    if (auto ec = insert_device(db, d)) return ec;
    return tx.commit() ? error_code{} : make_error_code(server_errc::storage_failed);
}

static error_code insert_device(sqlite_db& db, const device_record& d) {
    auto s = db.prepare(std::string("INSERT INTO device_codes (") + device_columns +
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    s.bind(1, d.device_code_hash).bind(2, d.user_code).bind(3, d.client_id).bind(4, d.scope).bind(5, d.status);
    s.bind(6, d.user_id).bind(7, d.requester_ip).bind(8, d.requester_ua).bind(9, d.created_at);
    s.bind(10, d.expires_at).bind(11, d.interval).bind(12, d.last_poll_at).bind(13, d.organization_id);
    return step_error(s.step());
}

result<device_record> find_pending_device(sqlite_db& db, const std::string& user_code, std::int64_t now) {
    auto s = db.prepare(std::string("SELECT ") + device_columns +
                        " FROM device_codes WHERE user_code = ?1 AND status = 'pending' AND expires_at > ?2");
    s.bind(1, user_code).bind(2, now);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return device_from(s);
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    return step_error(rc);
}

result<device_record> answer_device(sqlite_db& db, const std::string& user_code, const std::string& user_id,
                                    bool approve, std::int64_t now, const std::string& organization_id) {
    auto s = db.prepare(std::string("UPDATE device_codes SET status = ?3, user_id = ?4, organization_id = ?5 WHERE "
                                    "user_code = ?1 AND status = 'pending' AND expires_at > ?2 RETURNING ") +
                        device_columns);
    s.bind(1, user_code).bind(2, now).bind(3, std::string_view(approve ? "approved" : "denied")).bind(4, user_id);
    s.bind(5, organization_id);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return device_from(s);
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    return step_error(rc);
}

result<flows::server::device_poll_decision> poll_device(sqlite_db& db, const std::string& device_code_hash,
                                                        const std::string& client_id, std::int64_t now) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    device_record stored;
    {
        auto s = db.prepare(std::string("SELECT ") + device_columns + " FROM device_codes WHERE device_code_hash = ?1");
        s.bind(1, device_code_hash);
        const int rc = s.step();
        if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
        if (rc != SQLITE_ROW) return step_error(rc);
        stored = device_from(s);
    }
    auto d = flows::server::decide_device_poll(stored, client_id, now);
    if (d.write) {
        auto s = db.prepare("UPDATE device_codes SET status = ?2, poll_interval = ?3, last_poll_at = ?4 "
                            "WHERE device_code_hash = ?1");
        s.bind(1, device_code_hash).bind(2, d.updated.status).bind(3, d.updated.interval);
        s.bind(4, d.updated.last_poll_at);
        if (auto ec = step_error(s.step())) return ec;
    }
    if (!tx.commit()) return make_error_code(server_errc::storage_failed);
    return d;
}

}  // namespace latchkey::transport::server::detail
