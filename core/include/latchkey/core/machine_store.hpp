// Machines registered from this computer (`latch machine add`), beside the credentials:
//   machines/                  0700
//   machines/<id>.json         the registration: id, name, issuer, key type and kid, and
//                              the RFC 7592 registration access token + client URI, 0600
//   machines/<id>.pem          the private key (PKCS#8 PEM), 0600
// <id> is machine_file_stem(machine id). Small, local, synchronous file I/O like the
// credential store; every write is atomic (write_file_atomic).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/secret.hpp>
#include <latchkey/core/token_set.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace latchkey {

struct machine_record {
    static constexpr int schema_version = 1;
    std::string machine_id;  // the client_id the IdP assigned
    std::string name;        // client_name
    std::string issuer;
    std::string key_type;    // "ec-p256" or "rsa-2048"
    std::string kid;         // RFC 7638 thumbprint of the registered public key
    time_point created_at{};
    time_point key_created_at{};
    std::string registration_client_uri;
    secret registration_access_token;  // RFC 7592; empty when the IdP offers no management
};

std::string to_json(const machine_record& m);
result<machine_record> machine_from_json(std::string_view text, diagnostics& diag);

class machine_store {
public:
    explicit machine_store(std::filesystem::path home) : dir_(std::move(home) / "machines") {}

    const std::filesystem::path& dir() const noexcept { return dir_; }
    std::filesystem::path record_path(std::string_view machine_id) const;
    std::filesystem::path key_path(std::string_view machine_id) const;

    // Every record, sorted by name then id. A file that cannot be parsed is an error
    // (store_corrupt naming it), never skipped silently.
    result<std::vector<machine_record>> list(diagnostics& diag) const;
    // By machine id, else by name. Empty when none; bad_input (with the matching ids)
    // when a name is ambiguous.
    result<std::optional<machine_record>> find(std::string_view id_or_name, diagnostics& diag) const;

    // Creates machines/ (0700) and writes the record (0600).
    error_code save(const machine_record& m, diagnostics& diag) const;
    // Writes the private key PEM (0600) for `machine_id`, replacing any old one atomically.
    error_code save_key(std::string_view machine_id, const secret& pem, diagnostics& diag) const;
    // Removes the record and the key; true when anything was there.
    result<bool> remove(std::string_view machine_id, diagnostics& diag) const;

private:
    std::filesystem::path dir_;
};

// Reads a private key file for signing. Refused (client_errc::key_error) with a message
// the user can act on: missing, unreadable (errno text), not a regular file, larger than
// 64 KiB, or readable/writable by group or others ("has mode 0644 ... chmod 600").
result<secret> read_private_key_file(const std::filesystem::path& path, diagnostics& diag);

}  // namespace latchkey
