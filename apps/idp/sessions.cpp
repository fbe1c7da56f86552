// Browser sessions (idp.hpp): the cookie holds a random token, the database its hash.
// Shared by Better Auth's /api/auth/* and the authorization endpoint's sign-in page, so a
// user signed in once is not asked again.
#include "idp.hpp"
#include "pages.hpp"

#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>
#include <latchkey/flows/server/token_hash.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

boost::asio::awaitable<result<session_found>> current_session(idp_state& st, const ts::server_request& req) {
    const std::string token = cookie_value(req, fs::session_cookie_name(st.cookies));
    session_found out;
    if (token.empty()) co_return out;
    std::string hash = fs::hash_token(token);
    const auto now = unix_now();
    auto used = co_await st.store.use_session(std::move(hash), now, fs::session_update_age, fs::session_ttl);
    if (!used && used.error() == fs::server_errc::not_found) co_return out;
    if (!used) co_return used.error();
    // A ban deletes the user's sessions; this also covers one that a ban's race let through.
    if (fs::ban_in_force(used->user, now)) co_return out;
    if (used->extended) out.set_cookie = fs::session_set_cookie(st.cookies, token, fs::session_ttl);
    out.found = std::move(*used);
    co_return out;
}

boost::asio::awaitable<result<std::string>> start_session(idp_state& st, const ts::server_request& req,
                                                          const fs::user_record& user, bool remember) {
    const secret token = fs::make_opaque_token();
    const auto now = unix_now();
    std::string ua = req.header("User-Agent");
    if (ua.size() > 512) ua.resize(512);
    fs::session_record s{fs::hash_token(token.reveal()), user.id, req.peer_ip, std::move(ua), now, now,
                         now + fs::session_ttl};
    if (auto ec = co_await st.store.put_session(std::move(s))) co_return ec;
    co_return fs::session_set_cookie(st.cookies, token.reveal(),
                                     remember ? std::optional<std::int64_t>(fs::session_ttl) : std::nullopt);
}

}  // namespace latchkey::idp
