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

std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3 / 2);
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string out;
    for (const auto& [k, v] : fields) {
        if (!out.empty()) out += '&';
        out += url_encode(k);
        out += '=';
        out += url_encode(v);
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
