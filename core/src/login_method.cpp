// The one mapping between login_method and its stored spelling and labels.
#include <latchkey/core/store.hpp>

#include <array>

namespace latchkey {

namespace {

struct method_names {
    login_method method;
    std::string_view stored;  // in credentials files
    std::string_view status;  // `latch status`
    std::string_view label;   // "Logged in ... (context 'x', <label>)."
};

constexpr std::array<method_names, 8> names{{
    {login_method::device, "device", "device flow", "device flow"},
    {login_method::browser, "browser", "browser (authorization code + PKCE)", "browser"},
    {login_method::browser_pasted, "browser-pasted",
     "browser (authorization code + PKCE, pasted URL)", "browser, pasted URL"},
    {login_method::callback_url, "callback-url", "ID token from a callback URL (no refresh)",
     "ID token from a callback URL"},
    {login_method::password, "password", "password grant", "password grant"},
    {login_method::client_credentials, "client_credentials", "client credentials",
     "client credentials"},
    {login_method::token, "token", "imported token (no refresh)", "imported token"},
    {login_method::machine, "machine", "machine key (client credentials, private_key_jwt)",
     "machine key"},
}};

const method_names* find(login_method m) {
    for (const auto& n : names)
        if (n.method == m) return &n;
    return nullptr;
}

}  // namespace

std::string_view to_string(login_method m) {
    const auto* n = find(m);
    return n ? n->stored : std::string_view{};
}

login_method login_method_from_string(std::string_view s) {
    for (const auto& n : names)
        if (n.stored == s) return n.method;
    return login_method::unknown;
}

std::string_view describe_method(login_method m) {
    const auto* n = find(m);
    return n ? n->status : std::string_view{"unknown"};
}

std::string_view short_method_label(login_method m) {
    const auto* n = find(m);
    return n ? n->label : std::string_view{"unknown method"};
}

}  // namespace latchkey
