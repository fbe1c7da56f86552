// `latch token --dpop-proof METHOD URL [--nonce N]`: a machine login's token may be bound to
// the machine's key (DPoP, RFC 9449): a resource server then wants, with each request, a
// fresh proof signed by that key. This prints one for METHOD URL, carrying the stored access
// token's hash (`ath`, §4.2) when the token is DPoP-bound, so a script can send
//     Authorization: DPoP $(latch token)    DPoP: $(latch token --dpop-proof GET "$URL")
// The proof is good for one request (its jti) within minutes (its iat).
#include "app.hpp"
#include "renewal_sources.hpp"

#include <latchkey/core/dpop.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cstdio>

namespace latchkey::cli {
namespace asio = boost::asio;

namespace {

bool plain_method(const std::string& m) {
    return !m.empty() && m.size() <= 16 && std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool absolute_http_url(const std::string& u) {
    auto parsed = boost::urls::parse_absolute_uri(u);
    return parsed && (parsed->scheme() == "https" || parsed->scheme() == "http") && parsed->has_authority();
}

}  // namespace

asio::awaitable<int> run_token_dpop_proof(app& a, token_options o) {
    std::string method = o.dpop_proof.size() == 2 ? o.dpop_proof[0] : "";
    std::transform(method.begin(), method.end(), method.begin(), [](char c) { return c >= 'a' && c <= 'z' ? c - 32 : c; });
    const std::string url = o.dpop_proof.size() == 2 ? o.dpop_proof[1] : "";
    if (!plain_method(method) || !absolute_http_url(url)) {
        print_error("--dpop-proof takes an HTTP method and an absolute http(s) URL, e.g. --dpop-proof GET https://api.example/v1");
        co_return 2;
    }
    diagnostics diag;
    auto cur = load_current_context(a, diag, true);
    if (cur.exit_code) co_return cur.exit_code;
    auto creds = a.store.load(cur.name, diag);
    if (!creds) { print_error(describe(creds.error(), diag)); co_return exit_code_for(creds.error()); }
    if (!*creds) { print_error("not logged in (context '" + cur.name + "'); run `latch login --machine`"); co_return 77; }
    const auto& c = **creds;
    if (c.method != login_method::machine) {
        print_error("context '" + cur.name + "' is not a machine login: DPoP proofs are signed with a machine's key "
                    "(`latch login --machine`)");
        co_return 1;
    }
    auto key = client_auth_sources_of(a).machine_key(c, diag);
    if (!key) { print_error(describe(key.error(), diag)); co_return 1; }
    dpop_proof_request r;
    r.method = method;
    r.url = url;
    r.iat = std::chrono::duration_cast<std::chrono::seconds>(a.clock.now().time_since_epoch()).count();
    r.nonce = o.dpop_nonce;
    if (c.tokens.token_type == "DPoP") r.access_token = c.tokens.access_token.reveal();
    auto proof = make_dpop_proof(key->key.get(), r);
    if (!proof) { print_error("cannot sign a DPoP proof with " + key->source); co_return 1; }
    std::printf("%s\n", proof->c_str());
    co_return 0;
}

}  // namespace latchkey::cli
