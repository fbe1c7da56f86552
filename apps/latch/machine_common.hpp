// What `latch machine` (machine.cpp) and the silent login (machine_login.cpp) share.
#pragma once

#include "app.hpp"

#include <latchkey/core/machine_store.hpp>
#include <latchkey/core/pkey.hpp>

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
result<machine_key> machine_key_from_pem(const secret& pem, const std::string& source,
                                         const std::filesystem::path& file, diagnostics& diag);

}  // namespace latchkey::cli
