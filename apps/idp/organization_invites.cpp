// Better Auth's organization plugin, invitations: invite-member (and its mail), get-invitation,
// list-invitations, list-user-invitations, accept-, reject-, cancel-invitation. An invitation
// is used once: the store's answer_invitation moves it from pending (and unexpired) in one
// transaction, inserting the member on accept. Only the invited address's signed-in user may
// accept or reject it (email compared case-insensitively; latch-idp has no email verification
// yet, see README); the inviting side (owner, admin, platform admin) may cancel it.
#include "organization.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include <variant>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

http_response invitation_not_found() { return api_error(400, "INVITATION_NOT_FOUND", "Invitation not found"); }

// Why a stored invitation cannot be answered (not pending, or expired).
invitation_outcome closed(const fs::invitation_record& inv, std::int64_t now) {
    if (fs::invitation_at(inv, now) == fs::invitation_state::expired)
        return {400, "INVITATION_EXPIRED", "This invitation has expired", {}};
    return {400, "INVITATION_ALREADY_ANSWERED", "This invitation was already " + inv.status, {}};
}

json::object detailed(const fs::invitation_record& i) {
    auto o = invitation_json(i);
    o["organizationName"] = i.organization_name;
    o["organizationSlug"] = i.organization_slug;
    o["inviterEmail"] = i.inviter_email;
    return o;
}

void send_invitation_mail(org_call& c, const boost::asio::any_io_executor& ex, const fs::invitation_record& inv,
                          const std::string& org_name) {
    if (!c.st.mail) return;
    mail_message m;
    m.kind = "invitation";
    m.to = inv.email;
    m.link = c.st.config.issuer + "/accept-invitation/" + inv.id;
    m.subject = "You are invited to join " + org_name;
    const std::string inviter = c.who.user.email.empty() ? c.who.user.username : c.who.user.email;
    m.text = inviter + " invites you to join the organization \"" + org_name + "\" as " + inv.role +
             ".\n\nAccept or decline here (the link is valid for 48 hours):\n" + m.link + "\n";
    c.st.mail->send(ex, m);
}

boost::asio::awaitable<http_response> invite(org_call& c) {
    const boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
    auto loaded = co_await load_call_org(c);
    if (loaded.error) co_return std::move(*loaded.error);
    const auto& o = *loaded.org;
    auto email = fs::canonical_email(string_field(c.body, "email").value_or(""));
    if (!email) co_return api_error(400, "INVALID_EMAIL", "Invalid email");
    auto role = fs::parse_org_role(string_field(c.body, "role").value_or(""));
    if (!role) co_return api_error(400, "ROLE_NOT_FOUND", "Role not found");
    if (auto v = fs::may_invite(o.actor, *role); v != fs::org_verdict::allowed) {
        const bool role_refused = v == fs::org_verdict::forbidden && fs::may_invite(o.actor, fs::org_role::member) == fs::org_verdict::allowed;
        if (role_refused)
            co_return api_error(403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE",
                                "You are not allowed to invite a user with this role");
        co_return refusal(v, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION",
                          "You are not allowed to invite users to this organization");
    }
    for (const auto& m : o.view.members)
        if (fs::canonical_email(m.user_email) == email)
            co_return api_error(400, "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION",
                                "User is already a member of this organization");
    std::string org_id = o.view.org.id, no_email;
    auto existing = co_await c.st.store.list_invitations(std::move(org_id), std::move(no_email));
    if (!existing) co_return api_failure(existing.error());
    const auto now = unix_now();
    for (const auto& i : *existing) {
        if (i.email != *email || fs::invitation_at(i, now) != fs::invitation_state::pending) continue;
        if (!bool_field(c.body, "resend", false))
            co_return api_error(400, "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION",
                                "User is already invited to this organization");
        send_invitation_mail(c, ex, i, o.view.org.name);
        co_return api_json(200, invitation_json(i));
    }
    fs::invitation_record inv{random_urlsafe(16), o.view.org.id, *email, std::string(fs::org_role_name(*role)),
                              "pending", c.who.user.id, now + fs::invitation_ttl, now};
    if (auto ec = co_await c.st.store.put_invitation(inv)) co_return api_failure(ec);
    note_event(c.st, &c.req, {.event = "invitation_create", .user_id = c.who.user.id, .username = c.who.user.username,
                              .organization_id = inv.organization_id, .target = inv.email, .role = inv.role});
    send_invitation_mail(c, ex, inv, o.view.org.name);
    co_return api_json(200, invitation_json(inv));
}

// The invitation `id` when the caller is its recipient; else the refusal.
using own_or_refused = std::variant<fs::invitation_record, invitation_outcome>;
boost::asio::awaitable<result<own_or_refused>> own_invitation(idp_state& st, const fs::user_record& user,
                                                              std::string id) {
    const invitation_outcome not_found{400, "INVITATION_NOT_FOUND", "Invitation not found", {}};
    if (id.empty()) co_return own_or_refused(not_found);
    auto inv = co_await st.store.find_invitation(std::move(id));
    if (!inv && inv.error() == fs::server_errc::not_found) co_return own_or_refused(not_found);
    if (!inv) co_return inv.error();
    if (!fs::invitation_for(*inv, user))
        co_return own_or_refused(invitation_outcome{403, "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION",
                                                    "You are not the recipient of the invitation", {}});
    co_return own_or_refused(std::move(*inv));
}

http_response refused(const invitation_outcome& o) { return api_error(o.status, o.code, o.message); }

boost::asio::awaitable<http_response> get_invitation(org_call& c) {
    std::string id(c.query.value_or_empty("id"));
    auto own = co_await own_invitation(c.st, c.who.user, std::move(id));
    if (!own) co_return api_failure(own.error());
    if (auto* no = std::get_if<invitation_outcome>(&*own)) co_return refused(*no);
    const auto& inv = std::get<fs::invitation_record>(*own);
    const auto now = unix_now();
    if (fs::invitation_at(inv, now) != fs::invitation_state::pending) co_return refused(closed(inv, now));
    co_return api_json(200, detailed(inv));
}

boost::asio::awaitable<http_response> list_invitations(org_call& c, bool for_user) {
    std::string org_id, email;
    if (for_user) {
        email = fs::canonical_email(c.who.user.email).value_or(fs::canonical_email(c.who.user.username).value_or(""));
        if (email.empty()) co_return api_json(200, json::array{});
    } else {
        auto loaded = co_await load_call_org(c);
        if (loaded.error) co_return std::move(*loaded.error);
        if (auto v = fs::may_read(loaded.org->actor); v != fs::org_verdict::allowed) co_return refusal(v, "", "");
        org_id = loaded.org->view.org.id;
    }
    auto all = co_await c.st.store.list_invitations(std::move(org_id), std::move(email));
    if (!all) co_return api_failure(all.error());
    json::array out;
    const auto now = unix_now();
    for (const auto& i : *all)
        if (!for_user || fs::invitation_at(i, now) == fs::invitation_state::pending)
            out.push_back(for_user ? detailed(i) : invitation_json(i));
    co_return api_json(200, out);
}

boost::asio::awaitable<http_response> answer(org_call& c, bool accept) {
    std::string id = string_field(c.body, "invitationId").value_or("");
    auto done = co_await answer_as_invitee(c.st, c.req, c.who, std::move(id), accept);
    if (!done) co_return api_failure(done.error());
    if (done->status != 200) co_return refused(*done);
    json::value member = nullptr;
    if (accept) member = member_json(done->answered.member);
    co_return api_json(200, json::object{{"invitation", invitation_json(done->answered.invitation)},
                                         {"member", std::move(member)}});
}

boost::asio::awaitable<http_response> cancel(org_call& c) {
    std::string id = string_field(c.body, "invitationId").value_or("");
    if (id.empty()) co_return invitation_not_found();
    auto inv = co_await c.st.store.find_invitation(id);
    if (!inv && inv.error() == fs::server_errc::not_found) co_return invitation_not_found();
    if (!inv) co_return api_failure(inv.error());
    auto loaded = co_await load_org(c.st, c.who.user, inv->organization_id, false);
    if (loaded.error) co_return std::move(*loaded.error);
    if (auto v = fs::may_cancel_invitation(loaded.org->actor); v != fs::org_verdict::allowed)
        co_return refusal(v, "YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION", "You are not allowed to cancel this invitation");
    const auto now = unix_now();
    fs::member_record nobody;
    auto answered = co_await c.st.store.answer_invitation(std::move(id), ts::invitation_answer::cancel, std::move(nobody), now);
    if (!answered) co_return api_failure(answered.error());
    if (answered->status != ts::answer_status::done) {
        co_return refused(closed(answered->invitation, now));
    }
    note_event(c.st, &c.req, {.event = "invitation_cancel", .user_id = c.who.user.id, .username = c.who.user.username,
                              .organization_id = inv->organization_id, .target = inv->email, .role = inv->role});
    co_return api_json(200, invitation_json(answered->invitation));
}

}  // namespace

boost::asio::awaitable<result<invitation_outcome>> answer_as_invitee(idp_state& st, const ts::server_request& req,
                                                                     const ts::session_use_result& who,
                                                                     std::string invitation_id, bool accept) {
    std::string id = invitation_id;
    auto own = co_await own_invitation(st, who.user, std::move(id));
    if (!own) co_return own.error();
    if (auto* no = std::get_if<invitation_outcome>(&*own)) co_return std::move(*no);
    const auto now = unix_now();
    fs::member_record m{random_urlsafe(16), "", who.user.id, "", now, who.user.name,
                        who.user.email.empty() ? who.user.username : who.user.email};
    const auto kind = accept ? ts::invitation_answer::accept : ts::invitation_answer::reject;
    auto answered = co_await st.store.answer_invitation(std::move(invitation_id), kind, std::move(m), now);
    if (!answered) co_return answered.error();
    if (answered->status == ts::answer_status::already_member)
        co_return invitation_outcome{400, "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION",
                                     "User is already a member of this organization", {}};
    if (answered->status != ts::answer_status::done) co_return closed(answered->invitation, now);
    const auto& inv = answered->invitation;
    note_event(st, &req, {.event = accept ? "invitation_accept" : "invitation_reject", .user_id = who.user.id,
                          .username = who.user.username, .organization_id = inv.organization_id, .target = inv.email,
                          .role = inv.role});
    if (accept) {  // Better Auth makes the joined organization the active one
        std::string hash = who.session.token_hash, org_id = inv.organization_id;
        if (auto ec = co_await st.store.set_active_organization(std::move(hash), std::move(org_id))) co_return ec;
    }
    invitation_outcome out;
    out.answered = std::move(*answered);
    co_return out;
}

boost::asio::awaitable<std::optional<http_response>> invitation_call(org_call& c, std::string_view path) {
    std::optional<http_response> out;
    if (path == "/organization/invite-member") out = co_await invite(c);
    else if (path == "/organization/get-invitation") out = co_await get_invitation(c);
    else if (path == "/organization/list-invitations") out = co_await list_invitations(c, false);
    else if (path == "/organization/list-user-invitations") out = co_await list_invitations(c, true);
    else if (path == "/organization/accept-invitation") out = co_await answer(c, true);
    else if (path == "/organization/reject-invitation") out = co_await answer(c, false);
    else if (path == "/organization/cancel-invitation") out = co_await cancel(c);
    co_return out;
}

}  // namespace latchkey::idp
