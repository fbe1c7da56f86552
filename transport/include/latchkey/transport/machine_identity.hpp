// The machine identity lifecycle: register a machine with the IdP (Dynamic Client
// Registration, RFC 7591), ask what the IdP still knows about it, delete it there and here,
// and give it a new key (RFC 7592 read / delete / update). A machine is a confidential
// client that authenticates with its own key (private_key_jwt, RFC 7523 §2.2); the key
// pair is made here and only the public half leaves this computer.
//
//     latchkey::transport::machine_identities machines(client, latchkey::machine_store(home));
//     auto added = co_await machines.async_add({.issuer = iss, .bearer = token}, diag);
//
// Nothing here prints: each operation returns what it did, and on failure the step it
// stopped at (what already happened at the IdP and here) plus diag saying why, so a
// caller can word its advice. `client` must outlive the object and every operation.
#pragma once

#include <latchkey/core/machine_store.hpp>
#include <latchkey/core/registration.hpp>
#include <latchkey/transport/client_services.hpp>

#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace latchkey::transport {

// Where an operation stopped.
enum class machine_step {
    done,         // it succeeded
    prepare,      // before the IdP heard of it (discovery, key generation, no registration
                  // access token, a local file): nothing changed anywhere
    idp_refused,  // the IdP answered with a refusal: nothing changed there or here
    idp_silent,   // no answer (a transport error): the IdP may or may not have done it
    store,        // the IdP did it; recording that here failed
    key_copy,     // done and recorded; only the extra key copy failed
};

struct machine_outcome {
    error_code ec;                          // empty: done
    machine_step step = machine_step::done;
};

// Register a machine (RFC 7591 §3.1).
struct machine_add_params {
    std::string issuer;
    std::string name;                  // client_name; empty: this computer's host name
    std::string key_type = "ec-p256";  // or "rsa-2048"
    secret bearer;                     // an initial access token, or a user's access token
    std::filesystem::path key_copy;    // also write the private key here; empty: no copy
};

struct machine_added : machine_outcome {
    machine_record record;             // as stored
    client_registration registration;  // the IdP's answer (auth method, management token)
    std::string key_description;       // "EC P-256", "RSA"
    std::filesystem::path key_file;    // the stored private key
};

// What the IdP still knows about a machine (RFC 7592 §2.1 read).
struct machine_remote_state {
    enum class kind {
        registered,      // with the key recorded here (or the IdP lists no keys)
        different_key,   // registered, but not with the key recorded here
        not_registered,  // the IdP does not know it (invalid_token / 404)
        no_token,        // no registration access token: cannot ask
        unknown,         // asking failed; ec and diag say why
    };
    kind what = kind::unknown;
    error_code ec;
    diagnostics diag;
};

// Give a machine a new key (RFC 7592 §2.2).
struct machine_rotate_params {
    std::optional<std::string> key_type;  // empty: the machine's current type
    std::filesystem::path key_copy;       // also write the new private key here
};

struct machine_rotated : machine_outcome {
    machine_record record;               // as stored after the rotation
    std::string key_description;         // of the new key
    std::filesystem::path key_file;      // the machine's key file (the old key until stored)
    std::filesystem::path pending_file;  // the new key, before it replaces the old one
    std::filesystem::path new_key_file;  // step store: where the new key is now
};

class machine_identities {
public:
    machine_identities(client_services& client, machine_store store)
        : client_(client), store_(std::move(store)) {}

    const machine_store& store() const noexcept { return store_; }

    // Discovers the registration endpoint, makes a key pair, registers the public half with
    // `bearer`, then stores the record and the private key (0600) and writes the key copy
    // (0600, never over an existing file). Failures (diag says why):
    //   prepare      discovery errors; endpoint_missing (no registration_endpoint);
    //                key_error (key generation); bad_input (unknown key type)
    //   idp_refused  parse_registration_response's errors (invalid_token: the bearer was
    //                refused; invalid_client_metadata, ...)
    //   idp_silent   the transport error (the IdP may have registered it)
    //   store        the machine is registered at the IdP but not recorded here
    //   key_copy     key_error (the copy's path exists, cannot be written)
    // Supports the cancellation of http_port::async_send.
    boost::asio::awaitable<machine_added> async_add(machine_add_params p, diagnostics& diag);

    // RFC 7592 §2.1 read. Never fails: the answer says what is known.
    boost::asio::awaitable<machine_remote_state> async_remote_state(const machine_record& m);

    // Deletes `m` at the IdP (RFC 7592 §2.3), unless `local_only`, then its record and key
    // here. Failures: prepare (config_missing: no registration access token), idp_refused,
    // idp_silent (nothing removed here in these three), store (deleted there, not here).
    boost::asio::awaitable<machine_outcome> async_remove(const machine_record& m, bool local_only,
                                                         diagnostics& diag);

    // Writes a new key to a pending file first, then sends the update with the full
    // metadata and the new jwks; once the IdP accepted it (its answer lists the new kid, or
    // no keys at all) the pending key replaces the old one and the record follows. So a
    // crash or a lost answer never loses the only key that works. Failures:
    //   prepare      config_missing (no registration access token), key_error, store_io
    //   idp_refused  the pending key is removed; the old key still works
    //   idp_silent   both keys are kept (key_file, pending_file): either may be the
    //                registered one now
    //   store        the IdP took the new key; new_key_file says where it is
    //   key_copy     rotated and recorded; only the copy failed
    boost::asio::awaitable<machine_rotated> async_rotate(machine_record m, machine_rotate_params p,
                                                         diagnostics& diag);

private:
    client_services& client_;
    machine_store store_;
};

}  // namespace latchkey::transport
