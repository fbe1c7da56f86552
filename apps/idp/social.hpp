// Social login on latch-idp ("Sign in with NAME", issue 14): latch-idp is the OAuth client of
// an upstream OpenID Provider, through the library's web_login (discovery, PKCE S256, state
// and nonce bound to this browser by a server-side pending login named in an HttpOnly,
// SameSite=Lax cookie, RFC 9207 iss, ID-token verification against the upstream JWKS) on
// latch-idp's own io_context and http_client.
//
//   GET  /api/auth/sign-in/social/NAME?return_to=/oauth2/authorize?...   (the pages' buttons)
//   POST /api/auth/sign-in/social {provider, callbackURL}  -> {url, redirect: true} (Better Auth)
//   GET  /api/auth/callback/NAME?code&state&iss                          (the upstream's answer)
//   GET|POST /api/auth/social/second-factor                              (TOTP-enrolled users)
#pragma once

#include "idp.hpp"

#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/web_login.hpp>

#include <map>
#include <memory>
#include <string>

namespace latchkey::idp {

// The upstream clients, made on first use from the stored configuration (made again when it
// changes); discovery is fetched then (bounded by the http_client's timeouts) and kept; a
// failure is kept for `retry_after` seconds, during which only that button answers 503.
struct social_hub {
    explicit social_hub(boost::asio::any_io_executor ex);
    struct entry {
        std::string fingerprint;  // the configuration it was made from
        std::shared_ptr<transport::web_login> login;
        bool discovered = false;
        std::int64_t failed_until = 0;
        std::string failure;
    };
    transport::http_client http;
    transport::real_clock clock;
    std::map<std::string, entry> entries;
    std::int64_t retry_after = 30;
};

// /api/auth/sign-in/social[/NAME], /api/auth/callback/NAME, /api/auth/social/second-factor
// (`path` without /api/auth); false from is_social_path for anything else.
bool is_social_path(std::string_view path);
boost::asio::awaitable<http_response> social_api(idp_state& st, const ts::server_request& req, std::string_view path);

// The "Sign in with NAME" buttons for a page, continuing at `return_to` (a path of ours)
// after the sign-in; "" when no provider is configured (or the store failed).
boost::asio::awaitable<std::string> social_buttons(idp_state& st, std::string return_to);

// ---- shared by social.cpp and social_callback.cpp
bool valid_social_name(std::string_view name);
std::string social_secret_context(const std::string& name);
// `raw` as an absolute URL to continue at: a path of ours (issuer + path) or a URL on a
// trusted origin; "" for empty; nullopt when it may not be followed (an open redirect).
std::optional<std::string> safe_return_to(const idp_state& st, std::string_view raw);
// The upstream's callback: the sign-in completed, the user found, linked or made.
boost::asio::awaitable<http_response> social_callback(idp_state& st, const ts::server_request& req,
                                                      const std::string& name);
// The second-factor page after a social sign-in (two_factor cookie).
boost::asio::awaitable<http_response> social_second_factor(idp_state& st, const ts::server_request& req);

// A ready (discovered) client for provider `name`, or why not: `status` 404 (no such
// provider), 500 (its secret cannot be unsealed), 503 (its discovery failed).
struct social_ready {
    std::shared_ptr<transport::web_login> login;
    int status = 0;
    std::string message;
};
boost::asio::awaitable<social_ready> ready_social(idp_state& st, std::string name);

}  // namespace latchkey::idp
