// The one authorization-response parser (see authorization_response.hpp).
#include <latchkey/flows/authorization_response.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <optional>

namespace latchkey::flows {
namespace urls = boost::urls;

namespace {

std::string_view trim(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    // Quotes or <...> picked up with the URL from a terminal or a mail.
    while (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') ||
                             (s.front() == '\'' && s.back() == '\'') ||
                             (s.front() == '<' && s.back() == '>'))) {
        s.remove_prefix(1);
        s.remove_suffix(1);
        while (!s.empty() && space(s.front())) s.remove_prefix(1);
        while (!s.empty() && space(s.back())) s.remove_suffix(1);
    }
    return s;
}

using fields = authorization_response;

// Reads the parameters of one query/fragment string (form-encoded: '+' is a space).
// Boost 1.81: params_view(string_view, opts) reads past the view; url_view::params(opts)
// does not, so the part is re-parsed as a relative reference.
std::optional<fields> read_fields(std::string_view part) {
    std::string relative = "?" + std::string(part);
    auto q = urls::parse_relative_ref(relative);
    if (!q) return std::nullopt;
    fields f;
    for (auto p : q->params(urls::encoding_opts(true))) {
        std::optional<std::string>* slot = p.key == "code"                ? &f.code
                                           : p.key == "state"             ? &f.state
                                           : p.key == "error"             ? &f.error
                                           : p.key == "id_token"          ? &f.id_token
                                           : p.key == "iss"               ? &f.iss
                                           : p.key == "error_description" ? &f.error_description
                                                                          : nullptr;
        if (!slot) continue;
        if (*slot && f.repeated.empty()) f.repeated = p.key;
        *slot = p.value;
    }
    return f;
}

authorization_response garbage(authorization_response p, std::string url, std::string reason) {
    p.what = authorization_response::kind::garbage;
    p.url = std::move(url);
    p.reason = std::move(reason);
    return p;
}

}  // namespace

authorization_response parse_authorization_response(std::string_view text) {
    const std::string_view t = trim(text);
    if (t.empty()) return {};
    auto u = urls::parse_uri_reference(t);
    if (!u) return garbage({}, std::string(t), "not a URL");
    // The fragment when it carries a response (implicit-style ID token), else the query;
    // a bare "code=...&state=..." counts as a query.
    std::string_view query, fragment;
    if (u->has_query()) query = u->encoded_query();
    if (u->has_fragment()) fragment = u->encoded_fragment();
    if (!u->has_query() && !u->has_fragment() && !u->has_scheme() &&
        t.find('=') != std::string_view::npos && t.find('/') == std::string_view::npos)
        query = t;
    std::optional<fields> f;
    if (!fragment.empty()) {
        f = read_fields(fragment);
        if (f && !f->id_token && !f->code && !f->error) f.reset();  // e.g. "#/route"
    }
    if (!f && !query.empty()) f = read_fields(query);
    if (!f) f.emplace();  // a URL without parameters: no state, no code
    authorization_response p = std::move(*f);
    p.parsed = true;  // a URL: the flow reads what it has (e.g. no state)
    if (!p.repeated.empty()) {
        std::string why = "it repeats `" + p.repeated + "` (RFC 6749 §3.1)";
        return garbage(std::move(p), std::string(t), std::move(why));
    }
    p.url = std::string(t);
    if (p.error) p.what = authorization_response::kind::error;
    else if (p.id_token && !p.id_token->empty()) p.what = authorization_response::kind::id_token;
    else if (p.code && !p.code->empty()) p.what = authorization_response::kind::code;
    else return garbage(std::move(p), std::string(t), "it has no code, error or id_token parameter");
    return p;
}

}  // namespace latchkey::flows
