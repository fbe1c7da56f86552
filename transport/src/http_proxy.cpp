// Which proxy a request goes through (no Asio/Beast here): the proxy environment variables
// as curl reads them, NO_PROXY matching, and the proxy URL with its credentials.
#include "http_internal.hpp"

#include <latchkey/core/base64url.hpp>

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <cctype>
#include <cstdlib>

namespace latchkey::transport::detail {
namespace urls = boost::urls;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string{};
}

// Lower case first, as curl does.
std::string env_either(const char* lower, const char* upper) {
    auto v = env(lower);
    return v.empty() ? env(upper) : v;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string_view strip_dots(std::string_view s) {
    if (!s.empty() && s.front() == '.') s.remove_prefix(1);
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    return s;
}

// "10.0.0.0/8" against an IPv4 host; "fd00::/8" against an IPv6 host.
bool cidr_matches(std::string_view entry, std::string_view host) {
    auto slash = entry.find('/');
    if (slash == std::string_view::npos) return false;
    auto net = entry.substr(0, slash);
    int bits = std::atoi(std::string(entry.substr(slash + 1)).c_str());
    auto h4 = urls::parse_ipv4_address(host);
    auto n4 = urls::parse_ipv4_address(net);
    if (h4 && n4 && bits >= 0 && bits <= 32) {
        std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
        return (h4->to_uint() & mask) == (n4->to_uint() & mask);
    }
    auto h6 = urls::parse_ipv6_address(host);
    auto n6 = urls::parse_ipv6_address(net);
    if (!h6 || !n6 || bits < 0 || bits > 128) return false;
    auto hb = h6->to_bytes();
    auto nb = n6->to_bytes();
    for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
        unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
        if ((hb[i] & mask) != (nb[i] & mask)) return false;
    }
    return true;
}

// One NO_PROXY entry: "host", ".suffix", "host:port", "[v6]:port", an address or a CIDR.
bool entry_matches(std::string_view entry, const std::string& host, std::string_view port) {
    if (entry.empty()) return false;
    if (entry.front() == '[') {  // [v6] or [v6]:port
        auto close = entry.find(']');
        if (close == std::string_view::npos) return false;
        auto rest = entry.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || rest.substr(1) != port)) return false;
        entry = entry.substr(1, close - 1);
    } else if (auto colon = entry.rfind(':');
               colon != std::string_view::npos && entry.find(':') == colon) {
        if (entry.substr(colon + 1) != port) return false;  // exactly one ':': host:port
        entry = entry.substr(0, colon);
    }
    if (entry.find('/') != std::string_view::npos) return cidr_matches(entry, host);
    auto e = lower(strip_dots(entry));
    if (e.empty()) return false;
    if (host == e) return true;
    // A suffix only matches at a label boundary: "example.com" matches "a.example.com",
    // not "badexample.com".
    return host.size() > e.size() && host.ends_with(e) && host[host.size() - e.size() - 1] == '.';
}

}  // namespace

proxy_config proxy_config_from_env() {
    proxy_config c;
    c.https_proxy = env_either("https_proxy", "HTTPS_PROXY");
    c.http_proxy = env_either("http_proxy", "HTTP_PROXY");
    auto all = env_either("all_proxy", "ALL_PROXY");
    if (c.https_proxy.empty()) c.https_proxy = all;
    if (c.http_proxy.empty()) c.http_proxy = all;
    c.no_proxy = env_either("no_proxy", "NO_PROXY");
    return c;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::string_view port) {
    auto h = lower(strip_dots(host));
    while (!no_proxy.empty()) {
        auto cut = no_proxy.find_first_of(", ");
        auto entry = trim(no_proxy.substr(0, cut));
        no_proxy = cut == std::string_view::npos ? std::string_view{} : no_proxy.substr(cut + 1);
        if (entry == "*") return true;
        if (entry_matches(entry, h, port)) return true;
    }
    return false;
}

result<std::optional<proxy_route>> choose_proxy(const target& t, const proxy_config& c,
                                                diagnostics& diag) {
    const std::string& url = t.tls ? c.https_proxy : c.http_proxy;
    // Loopback never goes through a proxy: the IdP or listener is on this machine.
    if (url.empty() || is_loopback_host(t.host) || no_proxy_matches(c.no_proxy, t.host, t.port))
        return std::optional<proxy_route>{};

    std::string full = url.find("://") == std::string::npos ? "http://" + url : url;
    auto fail = [&](std::string why) -> error_code {
        // The proxy URL may hold a password: never show it, only the host.
        diag.client_message = "bad proxy setting (" + std::string(t.tls ? "HTTPS_PROXY" : "HTTP_PROXY") +
                              "): " + why;
        return client_errc::bad_url;
    };
    auto parsed = urls::parse_uri(full);
    if (!parsed) return fail("not a URL");
    urls::url_view u = *parsed;
    if (u.scheme_id() != urls::scheme::http)
        return fail("only http:// proxies are supported, not " +
                    escape_untrusted(u.scheme(), 20) + "://");
    auto proxy = parse_any_target(
        "http://" + std::string(std::string_view(u.encoded_host_and_port())) + "/", diag);
    if (!proxy) return fail("no usable host");
    proxy_route r;
    r.proxy = std::move(*proxy);
    r.proxy.via_proxy = true;
    if (!u.has_port()) r.proxy.port = "1080";  // curl's default proxy port
    r.proxy.display = "http://" + r.proxy.host_header + (u.has_port() ? "" : ":1080");
    if (u.has_userinfo())
        r.authorization = "Basic " + base64_encode(std::string(u.user()) + ":" + std::string(u.password()));
    return std::optional<proxy_route>{std::move(r)};
}

}  // namespace latchkey::transport::detail
