// What `latch machine` (machine.cpp) and the silent login (machine_login.cpp) share.
#pragma once

#include "app.hpp"

#include <latchkey/core/machine_store.hpp>
#include <latchkey/core/registration.hpp>
#include <latchkey/core/pkey.hpp>
#include <latchkey/transport/machine_identity.hpp>

#include <filesystem>
#include <string>

namespace latchkey::cli {

// A machine's private key, ready to sign client assertions.
struct machine_key {
    pkey_ptr key;
    std::string kid;           // RFC 7638 thumbprint: the kid registered with the public key
    std::string source;        // for messages: "the machine key file /x", "the key in LATCH_MACHINE_KEY"
    std::filesystem::path file;  // empty when the key came from the environment
};

// The key for `machine_id`, first found of: `flag_file` (--key-file), LATCH_MACHINE_KEY
// (the PEM itself, for CI secrets), `remembered_file` (the context's), the key `latch
// machine add` stored here. Files with looser modes than 0600 are refused. key_error with
// a message the user can act on.
result<machine_key> load_machine_key(app& a, const std::string& machine_id,
                                     const std::string& flag_file,
                                     const std::string& remembered_file, diagnostics& diag);
// Why the IdP said invalid_client, as far as we can tell: a clock skew (its Date header),
// a key that is not the registered one (RFC 7592 read with the registration kept here),
// else the machine is not registered. Writes diag.client_message; keeps the IdP's text.
boost::asio::awaitable<void> explain_invalid_client(app& a, const client_config& c,
                                                    const machine_key& k, diagnostics& diag);
result<machine_key> machine_key_from_pem(const secret& pem, const std::string& source,
                                         const std::filesystem::path& file, diagnostics& diag);

// `latch machine` options, shared by its subcommands (one is parsed per process).
struct machine_options {
    std::string id;                       // rm, rotate: machine id or name
    std::string name;                     // add --name
    std::string key_type = "ec-p256";     // --key-type
    std::string key_out;                  // --key-out FILE
    std::string registration_token_file;  // --registration-token-file (else LATCH_REGISTRATION_TOKEN)
    std::string issuer;                   // add --issuer (else LATCH_ISSUER, else the context's)
    bool remote = false;                  // list --remote
    bool local_only = false;              // rm --local-only
    bool rotate_key_type_given = false;
};

// The machine identity use case for this process's client and store.
inline transport::machine_identities machines_of(app& a) {
    return {a.client, machine_store(a.store.home())};
}

// machine_manage.cpp
boost::asio::awaitable<int> machine_list(app& a, machine_options o);
boost::asio::awaitable<int> machine_rm(app& a, machine_options o);
boost::asio::awaitable<int> machine_rotate(app& a, machine_options o);

}  // namespace latchkey::cli
