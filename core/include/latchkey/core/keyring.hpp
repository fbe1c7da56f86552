// The desktop keyring (the freedesktop Secret Service: GNOME Keyring, KWallet, KeePassXC),
// where a context configured with `storage keyring` keeps its refresh token instead of
// the credentials file (core/src/store_keyring.cpp).
//
// libsecret is loaded with dlopen on first use, so neither `latch token` from the file nor
// a build or a machine without libsecret pays for it; a build without its headers
// (LATCH_KEYRING=OFF) reports the keyring unavailable. Each call is a synchronous D-Bus
// round trip, bounded by D-Bus's own timeout (25 s): like the store's file I/O, small and
// local, and made only for contexts configured for the keyring.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/secret.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace latchkey::keyring {

// Items are found by these attributes (schema "org.latchkey.RefreshToken").
struct item_key {
    std::string home;     // the credential store's home directory
    std::string context;  // the context name
};

// Each returns client_errc::store_io with the reason in diag.client_message ("no Secret
// Service: <D-Bus error>", "latch was built without libsecret", ...) when it cannot talk
// to a keyring.
error_code store(const item_key& key, const secret& value, diagnostics& diag);
result<std::optional<secret>> load(const item_key& key, diagnostics& diag);
error_code remove(const item_key& key, diagnostics& diag);

// Whether a keyring answers (a lookup of an item that does not exist); the reason when not.
bool available(diagnostics& diag);

}  // namespace latchkey::keyring
