// URL checks and message wording for the HTTP client (no Asio/Beast here).
#include "http_internal.hpp"

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <cctype>

namespace latchkey::transport::detail {
namespace urls = boost::urls;

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A DNS name we are willing to resolve: letters, digits, '-', '.', '_'.
bool plausible_host_name(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    for (unsigned char c : h)
        if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') return false;
    return true;
}

error_code fail(client_errc e, diagnostics& diag, std::string message) {
    diag.client_message = std::move(message);
    return e;
}

}  // namespace

std::string url_for_message(std::string_view url) {
    auto cut = url.find_first_of("?#");
    if (cut != std::string_view::npos) url = url.substr(0, cut);
    return escape_untrusted(url, 200);
}

bool is_loopback_host(std::string_view host) {
    if (iequals(host, "localhost") || iequals(host, "localhost.")) return true;
    if (auto v4 = urls::parse_ipv4_address(host)) return (v4->to_uint() >> 24) == 127;
    if (auto v6 = urls::parse_ipv6_address(host)) {
        if (v6->is_loopback()) return true;
        return v6->is_v4_mapped() && v6->to_bytes()[12] == 127;
    }
    return false;
}

result<target> parse_any_target(std::string_view url, diagnostics& diag) {
    auto shown = url_for_message(url);
    auto parsed = urls::parse_uri(url);
    if (!parsed)
        return fail(client_errc::bad_url, diag,
                    "bad URL \"" + shown + "\": " + parsed.error().message());
    urls::url_view u = *parsed;

    target t;
    if (u.scheme_id() == urls::scheme::https) t.tls = true;
    else if (u.scheme_id() != urls::scheme::http)
        return fail(client_errc::bad_url, diag,
                    "bad URL \"" + shown + "\": only http:// and https:// are supported");

    switch (u.host_type()) {
    case urls::host_type::ipv4:
        t.host = u.host_ipv4_address().to_string();
        t.host_is_ip = true;
        t.host_header = t.host;
        break;
    case urls::host_type::ipv6:
        t.host = u.host_ipv6_address().to_string();
        t.host_is_ip = true;
        t.host_header = "[" + t.host + "]";
        break;
    case urls::host_type::name:
        t.host = u.host_name();
        t.host_header = t.host;
        if (plausible_host_name(t.host)) break;
        [[fallthrough]];
    default:
        return fail(client_errc::bad_url, diag, "bad URL \"" + shown + "\": no usable host");
    }

    t.port = t.tls ? "443" : "80";
    if (u.has_port() && !u.port().empty()) {
        // Boost.URL accepts any digit string as a port; keep 1..65535.
        std::string_view digits = u.port();
        unsigned long n = 0;
        for (char c : digits) n = n > 65535 ? n : n * 10 + static_cast<unsigned>(c - '0');
        if (n == 0 || n > 65535)
            return fail(client_errc::bad_url, diag, "bad URL \"" + shown + "\": bad port");
        t.port = std::to_string(n);
        t.host_header += ":" + t.port;
    }

    std::string_view path = u.encoded_path();
    t.path = path.empty() ? std::string("/") : std::string(path);
    if (u.has_query()) t.path += "?" + std::string(std::string_view(u.encoded_query()));

    const char* scheme = t.tls ? "https://" : "http://";
    t.display = scheme + t.host_header + std::string(path);
    t.origin = scheme + lower(t.host) + ":" + t.port;
    return t;
}

result<target> parse_target(std::string_view url, bool allow_insecure_loopback,
                            diagnostics& diag) {
    auto parsed = parse_any_target(url, diag);
    if (!parsed) return parsed;
    const target& t = *parsed;
    if (!t.tls && !(allow_insecure_loopback && is_loopback_host(t.host))) {
        std::string why = is_loopback_host(t.host)
                              ? "plain http is disabled"
                              : "plain http is only allowed to loopback hosts";
        return fail(client_errc::insecure_url, diag,
                    "refusing insecure URL " + t.display + ": " + why + "; use https://");
    }
    return t;
}

std::string describe_duration(std::chrono::milliseconds d) {
    auto ms = d.count();
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
    if (ms < 1000) return std::to_string(ms) + " ms";
    auto tenths = (ms + 50) / 100;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

std::string describe_size(std::size_t n) {
    if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
    if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
    return std::to_string(n) + " bytes";
}

}  // namespace latchkey::transport::detail
