#include <latchkey/flows/server/consent.hpp>

namespace latchkey::flows::server {

namespace {

template <class F>
void each_word(std::string_view list, F f) {
    while (!list.empty()) {
        const auto sp = list.find(' ');
        const auto word = list.substr(0, sp);
        if (!word.empty()) f(word);
        if (sp == std::string_view::npos) break;
        list.remove_prefix(sp + 1);
    }
}

}  // namespace

bool has_word(std::string_view list, std::string_view word) {
    bool found = false;
    each_word(list, [&](std::string_view w) { found = found || w == word; });
    return found;
}

bool scopes_covered(std::string_view granted, std::string_view requested) {
    bool covered = true;
    each_word(requested, [&](std::string_view w) { covered = covered && has_word(granted, w); });
    return covered;
}

std::string scope_union(std::string_view granted, std::string_view requested) {
    std::string out;
    auto add = [&](std::string_view w) {
        if (has_word(out, w)) return;
        if (!out.empty()) out.push_back(' ');
        out += w;
    };
    each_word(granted, add);
    each_word(requested, add);
    return out;
}

bool needs_consent(const client_record& client, const std::optional<std::string>& granted,
                   std::string_view requested, std::string_view prompt) {
    if (client.skip_consent) return false;
    if (has_word(prompt, "consent")) return true;
    return !granted || !scopes_covered(*granted, requested);
}

std::string describe_scope(std::string_view scope) {
    if (scope == "openid") return "Know who you are (your user id)";
    if (scope == "profile") return "See your name and user name";
    if (scope == "email") return "See your email address";
    if (scope == "offline_access") return "Stay signed in while you are away (a refresh token)";
    return "Access \"" + std::string(scope) + "\" on your behalf";
}

std::vector<std::string> describe_scopes(std::string_view scope) {
    std::vector<std::string> out;
    each_word(scope_union("", scope), [&](std::string_view w) { out.push_back(describe_scope(w)); });
    return out;
}

bool post_logout_uri_registered(const client_record& client, std::string_view uri) {
    for (const auto& u : client.post_logout_redirect_uris)
        if (u == uri) return true;
    return false;
}

logout_decision decide_logout(const logout_request& r) {
    auto refuse = [](std::string m) { return logout_decision{logout_action::refuse, std::move(m)}; };
    if (r.hint_present && !r.hint_valid) return refuse("id_token_hint is not an ID token this server issued");
    if (r.hint_valid && !r.client_id.empty() && r.client_id != r.hint_aud)
        return refuse("client_id is not the audience of id_token_hint");
    if (!r.redirect_uri.empty()) {
        if (!r.client) return refuse("post_logout_redirect_uri needs id_token_hint or a known client_id");
        if (!post_logout_uri_registered(*r.client, r.redirect_uri))
            return refuse("post_logout_redirect_uri is not registered for this client");
    }
    if (r.confirmed) return {logout_action::sign_out, {}};
    if (r.hint_valid && (r.session_user.empty() || r.session_user == r.hint_sub)) return {logout_action::sign_out, {}};
    return {logout_action::confirm, {}};
}

}  // namespace latchkey::flows::server
