// The consent page (OIDC Core §3.1.2.4): after sign-in the user is shown the client's name
// and what its scopes allow, and answers Allow or Deny with a CSRF-protected form to
// /oauth2/consent. Allowed scopes are remembered per user and client (the union of what was
// granted), so the same request does not ask again; prompt=consent asks anyway. Clients
// registered --skip-consent (trusted first party) are never asked.
#include "authorize.hpp"
#include "pages.hpp"

#include <latchkey/flows/server/consent.hpp>
#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {

constexpr std::string_view consent_path = "/oauth2/consent";

http_response consent_page(idp_state& st, const fs::client_record& client, const fs::form& params,
                           const fs::authorize_request& a, const fs::user_record& user) {
    auto csrf = fs::make_csrf(st.csrf_key);
    std::string items;
    for (const auto& d : fs::describe_scopes(a.scope)) items += "<li>" + fs::html_escape(d) + "</li>";
    const std::string who = client.name == client.client_id
                                ? fs::html_escape(client.name)
                                : fs::html_escape(client.name) + " (" + fs::html_escape(client.client_id) + ")";
    auto r = page(200, "Allow access?",
                  "<p>You are signed in as <b>" + fs::html_escape(user.username) + "</b>.</p><p><b>" + who +
                      "</b> asks to:</p><ul>" + items + "</ul><form method=\"post\" action=\"" +
                      local_path(st, consent_path) + "\"><input type=\"hidden\" name=\"csrf\" value=\"" +
                      fs::html_escape(csrf.field) + "\">" + hidden_authorize_fields(params) +
                      "<p><button name=\"action\" value=\"allow\">Allow</button> "
                      "<button name=\"action\" value=\"deny\">Deny</button></p></form>",
                  origin_of(a.redirect_uri));
    r.headers.emplace_back("Set-Cookie", csrf_set_cookie(st, csrf.cookie, consent_path));
    return r;
}

// The stored consent of `user_id` for `client_id`; nullopt when never given.
boost::asio::awaitable<result<std::optional<std::string>>> stored_consent(idp_state& st, std::string user_id,
                                                                          std::string client_id) {
    auto found = co_await st.store.find_consent(std::move(user_id), std::move(client_id));
    if (found) co_return std::optional<std::string>(std::move(*found));
    if (found.error() == fs::server_errc::not_found) co_return std::optional<std::string>{};
    co_return found.error();
}

}  // namespace

boost::asio::awaitable<http_response> after_sign_in(idp_state& st, const fs::client_record& client,
                                                    const fs::form& params, const fs::authorize_request& a,
                                                    fs::user_record user, std::string set_cookie,
                                                    std::string organization_id) {
    std::optional<std::string> granted;
    if (!client.skip_consent) {
        std::string uid = user.id, cid = client.client_id;
        auto stored = co_await stored_consent(st, std::move(uid), std::move(cid));
        if (!stored) co_return storage_error(stored.error());
        granted = std::move(*stored);
    }
    const auto prompt = params.value_or_empty("prompt");
    if (!fs::needs_consent(client, granted, a.scope, prompt))
        co_return co_await issue_code(st, a, std::move(user.id), std::move(set_cookie), std::move(organization_id));
    if (fs::has_word(prompt, "none"))
        co_return error_answer(st, {oauth_errc::consent_required, "the user has not allowed this client", true},
                               a.redirect_uri, a.state);
    auto r = consent_page(st, client, params, a, user);
    if (!set_cookie.empty()) r.headers.emplace_back("Set-Cookie", std::move(set_cookie));
    co_return r;
}

boost::asio::awaitable<http_response> consent_endpoint(idp_state& st, const ts::server_request& req) {
    if (req.method != http_method::post)
        co_return message_page(405, "Request refused", "Answer the consent page with its buttons.");
    auto params = fs::form::parse(req.body);
    if (!params || !csrf_ok(st, req, *params))
        co_return message_page(403, "Request refused", "The form expired or did not come from this site. Start the sign-in again.");
    std::string client_id(params->value_or_empty("client_id"));
    auto client = co_await st.store.find_client(std::move(client_id));
    if (!client && client.error() != fs::server_errc::not_found) co_return storage_error(client.error());
    fs::authorize_error err;
    auto a = fs::check_authorize(*params, client ? &*client : nullptr, err);
    if (!a) co_return error_answer(st, err, params->value_or_empty("redirect_uri"), params->value_or_empty("state"));
    auto s = co_await current_session(st, req);
    if (!s) co_return storage_error(s.error());
    if (!s->found)
        co_return message_page(401, "Signed out", "Your sign-in has ended. Start again from the application.");
    const auto action = params->value_or_empty("action");
    if (action == "deny")
        co_return error_answer(st, {oauth_errc::access_denied, "the user denied the request", true}, a->redirect_uri,
                               a->state);
    if (action != "allow") co_return message_page(400, "Request refused", "Answer with Allow or Deny.");
    // Named locals moved in: no temporaries inside co_await (GCC 12).
    std::string uid = s->found->user.id, cid = a->client_id;
    auto stored = co_await stored_consent(st, std::move(uid), std::move(cid));
    if (!stored) co_return storage_error(stored.error());
    std::string put_uid = s->found->user.id, put_cid = a->client_id;
    std::string scope = fs::scope_union(stored->value_or(""), a->scope);
    const auto now = unix_now();
    if (auto ec = co_await st.store.put_consent(std::move(put_uid), std::move(put_cid), std::move(scope), now))
        co_return storage_error(ec);
    note_event(st, &req, {.event = "consent_grant", .user_id = s->found->user.id, .client_id = a->client_id});
    std::string user_id = s->found->user.id, org = s->found->session.active_organization_id;
    co_return co_await issue_code(st, *a, std::move(user_id), std::move(s->set_cookie), std::move(org));
}

}  // namespace latchkey::idp
