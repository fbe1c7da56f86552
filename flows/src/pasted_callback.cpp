// Classifying a pasted callback URL (see pasted_callback.hpp).
#include <latchkey/flows/pasted_callback.hpp>

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

struct fields {
    std::optional<std::string> code, state, error, id_token;
    std::string repeated;
};

// Reads the parameters of one query/fragment string (form-encoded: '+' is a space).
// Boost 1.81: params_view(string_view, opts) reads past the view; url_view::params(opts)
// does not, so the part is re-parsed as a relative reference.
std::optional<fields> read_fields(std::string_view part) {
    std::string relative = "?" + std::string(part);
    auto q = urls::parse_relative_ref(relative);
    if (!q) return std::nullopt;
    fields f;
    for (auto p : q->params(urls::encoding_opts(true))) {
        std::optional<std::string>* slot = p.key == "code"       ? &f.code
                                           : p.key == "state"    ? &f.state
                                           : p.key == "error"    ? &f.error
                                           : p.key == "id_token" ? &f.id_token
                                                                 : nullptr;
        if (!slot) continue;
        if (*slot && f.repeated.empty()) f.repeated = p.key;
        *slot = p.value;
    }
    return f;
}

pasted_callback garbage(std::string url, std::string reason) {
    pasted_callback p;
    p.what = pasted_callback::kind::garbage;
    p.url = std::move(url);
    p.reason = std::move(reason);
    return p;
}

}  // namespace

pasted_callback parse_pasted_callback(std::string_view text) {
    const std::string_view t = trim(text);
    if (t.empty()) return {};
    auto u = urls::parse_uri_reference(t);
    if (!u) return garbage(std::string(t), "not a URL");
    // The fragment when it carries an ID token (implicit-style), else the query; a bare
    // "code=...&state=..." counts as a query.
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
    if (!f) return garbage(std::string(t), "it has no code, error or id_token parameter");
    if (!f->repeated.empty())
        return garbage(std::string(t), "it repeats `" + f->repeated + "` (RFC 6749 §3.1)");
    pasted_callback p;
    p.url = std::string(t);
    p.state = f->state.value_or("");
    if (f->error) {
        p.what = pasted_callback::kind::error;
        p.error = *f->error;
    } else if (f->id_token && !f->id_token->empty()) {
        p.what = pasted_callback::kind::id_token;
        p.id_token = *f->id_token;
    } else if (f->code && !f->code->empty()) {
        p.what = pasted_callback::kind::code;
    } else {
        return garbage(std::string(t), "it has no code, error or id_token parameter");
    }
    return p;
}

}  // namespace latchkey::flows
