// Organizations, members and invitations on SQLite (sqlite_ops.hpp; Better Auth's
// organization plugin). The single-use step is answer_invitation: one BEGIN IMMEDIATE
// transaction whose conditional UPDATE (status = 'pending' AND expires_at > now) picks the one
// winner, which inserts the member row before COMMIT. change_member counts the owners in the
// transaction that changes the member, so two concurrent demotions cannot both pass.
#include "sqlite_ops.hpp"

#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::transport::server::detail {

using flows::server::server_errc;
using records::invitation_record;
using records::member_record;
using records::organization_record;

namespace {

constexpr const char* org_columns = "o.id, o.name, o.slug, o.logo, o.metadata, o.created_at";

organization_record org_from(const stmt& s) {
    return {s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5)};
}

constexpr const char* member_select =
    "SELECT m.id, m.organization_id, m.user_id, m.role, m.created_at, u.name, "
    "CASE WHEN u.email = '' THEN u.username ELSE u.email END FROM members m JOIN users u ON u.id = m.user_id ";

member_record member_from(const stmt& s) {
    return {s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4), s.text(5), s.text(6)};
}

constexpr const char* invitation_columns =
    "id, organization_id, email, role, status, inviter_id, expires_at, created_at";
constexpr const char* invitation_select =
    "SELECT i.id, i.organization_id, i.email, i.role, i.status, i.inviter_id, i.expires_at, i.created_at, "
    "o.name, o.slug, COALESCE(CASE WHEN u.email = '' THEN u.username ELSE u.email END, '') "
    "FROM invitations i JOIN organizations o ON o.id = i.organization_id LEFT JOIN users u ON u.id = i.inviter_id ";

invitation_record invitation_from(const stmt& s) {
    return {s.text(0), s.text(1),  s.text(2), s.text(3), s.text(4), s.text(5),
            s.int64(6), s.int64(7), s.text(8), s.text(9), s.text(10)};
}

error_code one_changed(sqlite_db& db, stmt& s) {
    if (auto ec = step_error(s.step())) return ec;
    return sqlite3_changes(db.handle()) == 1 ? error_code{} : make_error_code(server_errc::not_found);
}

error_code insert_member(sqlite_db& db, const member_record& m) {
    auto s = db.prepare("INSERT INTO members (id, organization_id, user_id, role, created_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, m.id).bind(2, m.organization_id).bind(3, m.user_id).bind(4, m.role).bind(5, m.created_at);
    return step_error(s.step());
}

result<std::vector<member_record>> members_of(sqlite_db& db, const std::string& org_id) {
    auto s = db.prepare(std::string(member_select) + "WHERE m.organization_id = ?1 ORDER BY m.created_at, m.id");
    s.bind(1, org_id);
    std::vector<member_record> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(member_from(s));
    if (auto ec = step_error(rc)) return ec;
    return out;
}

template <class T>
result<T> commit_or_fail(transaction& tx, T value) {
    if (!tx.commit()) return make_error_code(server_errc::storage_failed);
    return value;
}

}  // namespace

error_code create_organization(sqlite_db& db, const organization_record& o, const member_record& owner) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    {
        auto s = db.prepare("INSERT INTO organizations (id, name, slug, logo, metadata, created_at) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        s.bind(1, o.id).bind(2, o.name).bind(3, o.slug).bind(4, o.logo).bind(5, o.metadata).bind(6, o.created_at);
        if (auto ec = step_error(s.step())) return ec;
    }
    if (auto ec = insert_member(db, owner)) return ec;
    return tx.commit() ? error_code{} : make_error_code(server_errc::storage_failed);
}

error_code update_organization(sqlite_db& db, const organization_record& o) {
    auto s = db.prepare("UPDATE organizations SET name = ?2, slug = ?3, logo = ?4, metadata = ?5 WHERE id = ?1");
    s.bind(1, o.id).bind(2, o.name).bind(3, o.slug).bind(4, o.logo).bind(5, o.metadata);
    return one_changed(db, s);
}

error_code delete_organization(sqlite_db& db, const std::string& id) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    {
        auto s = db.prepare("UPDATE sessions SET active_organization_id = '' WHERE active_organization_id = ?1");
        s.bind(1, id);
        if (auto ec = step_error(s.step())) return ec;
    }
    {
        auto s = db.prepare("DELETE FROM organizations WHERE id = ?1");  // members, invitations: ON DELETE CASCADE
        s.bind(1, id);
        if (auto ec = one_changed(db, s)) return ec;
    }
    return tx.commit() ? error_code{} : make_error_code(server_errc::storage_failed);
}

result<organization_view> find_organization(sqlite_db& db, const std::string& key, bool by_slug) {
    organization_view out;
    {
        auto s = db.prepare(std::string("SELECT ") + org_columns + " FROM organizations o WHERE " +
                            (by_slug ? "o.slug = ?1" : "o.id = ?1"));
        s.bind(1, key);
        const int rc = s.step();
        if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
        if (rc != SQLITE_ROW) return step_error(rc);
        out.org = org_from(s);
    }
    auto members = members_of(db, out.org.id);
    if (!members) return members.error();
    out.members = std::move(*members);
    return out;
}

result<std::vector<organization_record>> list_organizations(sqlite_db& db, const std::string& user_id) {
    auto s = db.prepare(std::string("SELECT ") + org_columns +
                        " FROM organizations o JOIN members m ON m.organization_id = o.id WHERE m.user_id = ?1 "
                        "ORDER BY o.created_at, o.id");
    s.bind(1, user_id);
    std::vector<organization_record> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(org_from(s));
    if (auto ec = step_error(rc)) return ec;
    return out;
}

result<member_change> change_member(sqlite_db& db, const std::string& org_id, const std::string& member_id,
                                    const std::string& role) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    auto members = members_of(db, org_id);
    if (!members) return members.error();
    member_change out;
    std::int64_t owners = 0;
    bool found = false;
    for (const auto& m : *members) {
        owners += m.role == "owner";
        if (m.id == member_id) out.before = m, found = true;
    }
    if (!found) return make_error_code(server_errc::not_found);
    if (out.before.role == "owner" && role != "owner" && owners <= 1) {
        out.last_owner = true;
        return out;  // rolled back: nothing changed
    }
    auto s = db.prepare(role.empty() ? "DELETE FROM members WHERE id = ?1 AND organization_id = ?2"
                                     : "UPDATE members SET role = ?3 WHERE id = ?1 AND organization_id = ?2");
    s.bind(1, member_id).bind(2, org_id);
    if (!role.empty()) s.bind(3, role);
    if (auto ec = one_changed(db, s)) return ec;
    if (role.empty()) {  // the removed member's sessions no longer have it active
        auto c = db.prepare("UPDATE sessions SET active_organization_id = '' WHERE user_id = ?1 AND "
                            "active_organization_id = ?2");
        c.bind(1, out.before.user_id).bind(2, org_id);
        if (auto ec = step_error(c.step())) return ec;
    }
    return commit_or_fail(tx, std::move(out));
}

error_code set_active_organization(sqlite_db& db, const std::string& session_hash, const std::string& org_id) {
    auto s = db.prepare("UPDATE sessions SET active_organization_id = ?2 WHERE token_hash = ?1");
    s.bind(1, session_hash).bind(2, org_id);
    return one_changed(db, s);
}

error_code put_invitation(sqlite_db& db, const invitation_record& i) {
    auto s = db.prepare(std::string("INSERT INTO invitations (") + invitation_columns +
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    s.bind(1, i.id).bind(2, i.organization_id).bind(3, i.email).bind(4, i.role).bind(5, i.status);
    s.bind(6, i.inviter_id).bind(7, i.expires_at).bind(8, i.created_at);
    return step_error(s.step());
}

result<invitation_record> find_invitation(sqlite_db& db, const std::string& id) {
    auto s = db.prepare(std::string(invitation_select) + "WHERE i.id = ?1");
    s.bind(1, id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return make_error_code(server_errc::not_found);
    if (rc != SQLITE_ROW) return step_error(rc);
    return invitation_from(s);
}

result<std::vector<invitation_record>> list_invitations(sqlite_db& db, const std::string& org_id,
                                                        const std::string& email) {
    auto s = db.prepare(std::string(invitation_select) +
                        "WHERE (?1 = '' OR i.organization_id = ?1) AND (?2 = '' OR i.email = ?2) "
                        "ORDER BY i.created_at DESC, i.id");
    s.bind(1, org_id).bind(2, email);
    std::vector<invitation_record> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(invitation_from(s));
    if (auto ec = step_error(rc)) return ec;
    return out;
}

result<invitation_answer_result> answer_invitation(sqlite_db& db, const std::string& id, invitation_answer answer,
                                                   const member_record& member, std::int64_t now) {
    transaction tx(db);
    if (!tx.ok()) return make_error_code(server_errc::storage_failed);
    const char* status = answer == invitation_answer::accept ? "accepted"
                         : answer == invitation_answer::reject ? "rejected"
                                                               : "canceled";
    invitation_answer_result out;
    auto u = db.prepare("UPDATE invitations SET status = ?2 WHERE id = ?1 AND status = 'pending' AND expires_at > ?3");
    u.bind(1, id).bind(2, std::string_view(status)).bind(3, now);
    if (auto ec = step_error(u.step())) return ec;
    const bool won = sqlite3_changes(db.handle()) == 1;
    auto stored = find_invitation(db, id);
    if (!stored) return stored.error();
    out.invitation = std::move(*stored);
    if (!won) return out;  // not_pending; rolled back (nothing was written)
    if (answer == invitation_answer::accept) {
        out.member = member;
        out.member.organization_id = out.invitation.organization_id;
        out.member.role = out.invitation.role;
        auto ec = insert_member(db, out.member);
        if (ec == server_errc::already_exists) {
            out.status = answer_status::already_member;
            return out;  // rolled back: the invitation stays pending
        }
        if (ec) return ec;
    }
    out.status = answer_status::done;
    return commit_or_fail(tx, std::move(out));
}

}  // namespace latchkey::transport::server::detail
