// The credential store's keyring glue (store_keyring.cpp); not installed.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace latchkey {
struct stored_credentials;
}

namespace latchkey::detail {

// context_config::extra key naming where the context's refresh token lives: "keyring" or
// absent/"file".
inline constexpr std::string_view storage_key = "storage";

// Whether config.json under `home` gives `context` "storage": "keyring".
bool keyring_configured(const std::filesystem::path& home, std::string_view context);
// The credentials file's content for `creds` (to_json, or with the refresh token moved to
// the keyring when the context is configured so and the keyring takes it).
std::string credentials_record(const std::filesystem::path& home, const stored_credentials& creds);
// Whether a record read from a file says its refresh token is in the keyring.
bool refresh_token_in_keyring(std::string_view record);
// Fills creds.tokens.refresh_token from the keyring (left empty when it cannot).
void attach_refresh_token(const std::filesystem::path& home, stored_credentials& creds);
// Removes the context's refresh token from the keyring when it is configured to keep it.
void forget_refresh_token(const std::filesystem::path& home, std::string_view context);

}  // namespace latchkey::detail
