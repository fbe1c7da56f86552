// Shared fixtures of the auth_code unit tests: parameters, fixed secrets, and replies.
#pragma once

#include <latchkey/core/base64url.hpp>
#include <latchkey/flows/auth_code_flow.hpp>

#include <string>

namespace latchkey::test::auth_code {

inline const time_point t0 = sys_clock::from_time_t(1'790'000'000);

inline flows::auth_code_params params() {
    flows::auth_code_params p;
    p.authorization_endpoint = "https://idp.example/auth";
    p.token_endpoint = "https://idp.example/token";
    p.client_id = "latch-cli";
    p.scope = "openid profile email offline_access";
    p.redirect_uri = "http://127.0.0.1:53682/callback";
    p.issuer = "https://idp.example";
    return p;
}

inline flows::auth_code_secrets secrets() {
    flows::auth_code_secrets s;
    s.state = "st-123";
    s.nonce = "n-456";
    s.code_verifier = secret{"verifier-0123456789-0123456789-0123456789-abcdef"};
    return s;
}

// started -> user_shown -> callback_received{url}; returns the last action.
inline flows::action to_callback(flows::auth_code_flow& f, std::string url) {
    f.next(flows::started{t0});
    f.next(flows::user_shown{t0});
    return f.next(flows::callback_received{t0 + seconds{5}, std::move(url)});
}

inline flows::http_reply token_reply(int status, std::string body) {
    flows::http_reply r{t0, {}, {}};
    r.response.status = status;
    r.response.content_type = "application/json";
    r.response.body = std::move(body);
    return r;
}

// An unsigned JWT with these claims (the machine only decodes it; signatures are the
// verify_id_token hook's business).
inline std::string jwt_with_claims(const std::string& claims_json) {
    return base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." +
           base64url_encode(claims_json) + ".c2ln";
}

inline std::string id_token_with_nonce(const std::string& nonce) {
    return jwt_with_claims(R"({"iss":"https://idp.example","sub":"alice","aud":"latch-cli",)"
                           R"("exp":1790003600,"iat":1790000000,"nonce":")" + nonce + R"("})");
}

inline std::string token_body(const std::string& id_token) {
    std::string b = R"({"access_token":"at-1","token_type":"Bearer","expires_in":3600,)"
                    R"("refresh_token":"rt-1","scope":"openid profile")";
    if (!id_token.empty()) b += R"(,"id_token":")" + id_token + "\"";
    return b + "}";
}

}  // namespace latchkey::test::auth_code
