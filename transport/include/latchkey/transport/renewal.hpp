// Renewal strategies: how a context's tokens are renewed when its access token nears expiry
// (token_source.hpp runs them, under its single-flight and the context's lock). Chosen by
// the stored login_method:
//
//   refresh          every user login (device, browser, password, ...): RFC 6749 §6 with the
//                    stored refresh token; a confidential client authenticates (§6, §2.3.1)
//   client secret    login_method::client_credentials: the §4.4 grant made again, the client
//                    authenticated with its secret (HTTP Basic, §2.3.1)
//   private_key_jwt  login_method::machine: the §4.4 grant with a new RFC 7523 §2.2 client
//                    assertion (iss = sub = client id, aud = the token endpoint, fresh jti)
//
// latch never stores a client secret or a private key: the embedder supplies them through
// client_auth_sources, asked at each renewal (the CLI reads LATCH_CLIENT_SECRET or the secret
// file the context remembers, and LATCH_MACHINE_KEY or the context's key file).
// Every renewal is one POST, never retried (a replayed grant or refresh token can end the
// session).
#pragma once

#include <latchkey/core/pkey.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/flows/grant_flow.hpp>
#include <latchkey/transport/ports.hpp>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace latchkey::transport {

// A private key that signs client assertions for one client.
struct signing_key {
    pkey_ptr key;
    std::string kid;     // the registered key's kid (RFC 7638 thumbprint), or empty
    std::string source;  // for messages: "the key in LATCH_MACHINE_KEY"
};

// Where a confidential client's credentials come from. Either may be left empty.
struct client_auth_sources {
    // The client secret of `c`'s client; an empty optional when the client is public (a
    // refresh then names the client with `client_id` only). An error ends the renewal
    // before anything is sent; diag.client_message says why.
    std::function<result<std::optional<secret>>(const stored_credentials& c, diagnostics&)>
        client_secret;
    // The key of a machine context (login_method::machine).
    std::function<result<signing_key>(const stored_credentials& c, diagnostics&)> machine_key;
};

enum class renewal_kind { refresh, client_secret, private_key_jwt };
renewal_kind renewal_for(login_method m) noexcept;

// True when `c` can be renewed without a user: it holds a refresh token, or it is a client
// credentials or machine login (renewed with the embedder's secret or key).
bool renewable(const stored_credentials& c) noexcept;

// How `c`'s client authenticates at an endpoint of its IdP (token, revocation): a new
// assertion with aud = `audience` for a machine, HTTP Basic with the secret when
// sources.client_secret gives one, else none (client_id only). Errors: the source's
// (client_errc::config_missing when a client-credentials login has no secret source or no
// secret), or key_error when signing fails.
result<flows::client_auth> client_auth_for(const client_auth_sources& sources,
                                           const stored_credentials& c,
                                           const std::string& audience, time_point now,
                                           diagnostics& diag);

struct renewal_request {
    std::string token_endpoint;
    stored_credentials current;  // what is renewed (a refresh needs its refresh token)
    std::string scope;           // refresh `scope`; empty omits it (a grant re-asks the stored scope)
    // A machine's DPoP-bound token (RFC 9449): the grant carries a proof by the machine's key
    // with `dpop_nonce`, the IdP's latest DPoP-Nonce (empty: none yet).
    bool dpop = false;
    std::string dpop_nonce = {};
};

// The flow that renews r.current (one POST), its client authentication made now; errors
// those of client_auth_for (nothing is sent then).
result<std::unique_ptr<flows::flow>> make_renewal_flow(const client_auth_sources& sources,
                                                       renewal_request r, time_point now,
                                                       diagnostics& diag);

// Runs the renewal for r.current.method (see the header comment); the new token set
// (a refresh merged with the old set, flows::merge_refreshed). Errors: those of
// client_auth_for, then the flow's (refresh_flow.hpp, grant_flow.hpp): oauth_errc from the
// IdP (invalid_grant: the session is over), transport errors, bad_http_status. `sources`
// and `diag` must outlive the co_await.
boost::asio::awaitable<result<token_set>> async_renew(ports p,
                                                      const client_auth_sources& sources,
                                                      renewal_request r, diagnostics& diag);

}  // namespace latchkey::transport
