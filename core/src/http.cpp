#include <latchkey/core/http.hpp>

#include <cctype>

namespace latchkey {

std::string http_response::header(std::string_view name) const {
    auto iequal = [](std::string_view a, std::string_view b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (std::tolower(static_cast<unsigned char>(a[i])) !=
                std::tolower(static_cast<unsigned char>(b[i])))
                return false;
        return true;
    };
    for (const auto& [k, v] : headers)
        if (iequal(k, name)) return v;
    return {};
}

namespace {
// Appends s percent-encoded to out: runs of RFC 3986 unreserved bytes (ASCII only;
// std::isalnum would follow the C locale) are copied in one go.
void append_url_encoded(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    auto unreserved = [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~';
    };
    std::size_t run = 0;  // start of the pending run of unreserved bytes
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (unreserved(c)) continue;
        out.append(s.data() + run, i - run);
        const char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        out.append(esc, 3);
        run = i + 1;
    }
    out.append(s.data() + run, s.size() - run);
}
}  // namespace

std::string url_encode(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 2);
    append_url_encoded(out, s);
    return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::size_t guess = 0;
    for (const auto& [k, v] : fields) guess += k.size() + v.size() + 2;
    std::string out;
    out.reserve(guess + guess / 4);
    for (const auto& [k, v] : fields) {
        if (!out.empty()) out += '&';
        append_url_encoded(out, k);
        out += '=';
        append_url_encoded(out, v);
    }
    return out;
}

http_request make_form_post(std::string url,
                            const std::vector<std::pair<std::string, std::string>>& fields) {
    http_request r;
    r.method = http_method::post;
    r.url = std::move(url);
    r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    r.headers.emplace_back("Accept", "application/json");
    r.body = form_encode(fields);
    return r;
}

http_request make_get(std::string url) {
    http_request r;
    r.method = http_method::get;
    r.url = std::move(url);
    r.headers.emplace_back("Accept", "application/json");
    r.idempotent = true;
    return r;
}

}  // namespace latchkey
