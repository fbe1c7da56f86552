// The Secret Service through libsecret, loaded with dlopen (core/keyring.hpp says why).
#include <latchkey/core/keyring.hpp>

#ifdef LATCH_HAVE_LIBSECRET
#include <libsecret/secret.h>

#include <dlfcn.h>
#include <mutex>
#endif

namespace latchkey::keyring {

#ifdef LATCH_HAVE_LIBSECRET
namespace {

// The functions we call, looked up once; null members when libsecret is not installed.
struct library {
    decltype(&secret_password_store_sync) store = nullptr;
    decltype(&secret_password_lookup_sync) lookup = nullptr;
    decltype(&secret_password_clear_sync) clear = nullptr;
    decltype(&secret_password_free) free_password = nullptr;
    decltype(&g_error_free) free_error = nullptr;
    std::string why_not;
};

const library& lib() {
    static library l;
    static std::once_flag once;
    std::call_once(once, [] {
        void* h = ::dlopen("libsecret-1.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            l.why_not = "libsecret is not installed (Debian: libsecret-1-0)";
            return;
        }
        l.store = reinterpret_cast<decltype(l.store)>(::dlsym(h, "secret_password_store_sync"));
        l.lookup = reinterpret_cast<decltype(l.lookup)>(::dlsym(h, "secret_password_lookup_sync"));
        l.clear = reinterpret_cast<decltype(l.clear)>(::dlsym(h, "secret_password_clear_sync"));
        l.free_password = reinterpret_cast<decltype(l.free_password)>(::dlsym(h, "secret_password_free"));
        l.free_error = reinterpret_cast<decltype(l.free_error)>(::dlsym(h, "g_error_free"));
        if (!l.store || !l.lookup || !l.clear || !l.free_password || !l.free_error) {
            l.store = nullptr;
            l.why_not = "libsecret-1.so.0 lacks the functions latch uses";
        }
    });
    return l;
}

const SecretSchema schema = {
    "org.latchkey.RefreshToken",
    SECRET_SCHEMA_NONE,
    {{"home", SECRET_SCHEMA_ATTRIBUTE_STRING},
     {"context", SECRET_SCHEMA_ATTRIBUTE_STRING},
     {nullptr, SECRET_SCHEMA_ATTRIBUTE_STRING}},
    0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
};

error_code unavailable(diagnostics& diag, const std::string& why) {
    diag.client_message = "no Secret Service keyring: " + why;
    return client_errc::store_io;
}

// The GError's message (D-Bus's reason), freed.
error_code failed(diagnostics& diag, GError* err) {
    std::string why = err && err->message ? err->message : "unknown error";
    if (err) lib().free_error(err);
    return unavailable(diag, why);
}

}  // namespace

error_code store(const item_key& key, const secret& value, diagnostics& diag) {
    const auto& l = lib();
    if (!l.store) return unavailable(diag, l.why_not);
    GError* err = nullptr;
    const std::string label = "latch refresh token (context " + key.context + ")";
    const std::string& password = value.reveal();
    if (!l.store(&schema, SECRET_COLLECTION_DEFAULT, label.c_str(), password.c_str(), nullptr, &err,
                 "home", key.home.c_str(), "context", key.context.c_str(), nullptr))
        return failed(diag, err);
    return {};
}

result<std::optional<secret>> load(const item_key& key, diagnostics& diag) {
    const auto& l = lib();
    if (!l.store) return unavailable(diag, l.why_not);
    GError* err = nullptr;
    gchar* found = l.lookup(&schema, nullptr, &err, "home", key.home.c_str(), "context",
                            key.context.c_str(), nullptr);
    if (err) return failed(diag, err);
    if (!found) return std::optional<secret>{};
    secret s{std::string(found)};
    l.free_password(found);  // libsecret wipes it
    return std::optional<secret>{std::move(s)};
}

error_code remove(const item_key& key, diagnostics& diag) {
    const auto& l = lib();
    if (!l.store) return unavailable(diag, l.why_not);
    GError* err = nullptr;
    l.clear(&schema, nullptr, &err, "home", key.home.c_str(), "context", key.context.c_str(), nullptr);
    if (err) return failed(diag, err);
    return {};
}

#else  // built without libsecret's headers

namespace {
error_code unavailable(diagnostics& diag) {
    diag.client_message = "no Secret Service keyring: latch was built without libsecret (LATCH_KEYRING=OFF)";
    return client_errc::store_io;
}
}  // namespace

error_code store(const item_key&, const secret&, diagnostics& diag) { return unavailable(diag); }
result<std::optional<secret>> load(const item_key&, diagnostics& diag) { return unavailable(diag); }
error_code remove(const item_key&, diagnostics& diag) { return unavailable(diag); }

#endif

bool available(diagnostics& diag) {
    auto r = load(item_key{"", ".latch-probe"}, diag);
    return r.has_value();
}

}  // namespace latchkey::keyring
