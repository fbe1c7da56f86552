#include <latchkey/flows/server/redirect_uri.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <optional>

namespace latchkey::flows::server {
namespace {

std::optional<boost::urls::url_view> parse(std::string_view s) {
    auto u = boost::urls::parse_uri(s);
    if (!u) return std::nullopt;
    return *u;
}

bool loopback_host(const boost::urls::url_view& u) {
    if (u.host_type() == boost::urls::host_type::ipv4) return u.host_address() == "127.0.0.1";
    if (u.host_type() == boost::urls::host_type::ipv6) return u.host_address() == "::1";
    return false;
}

bool loopback(const boost::urls::url_view& u) {
    return u.scheme() == "http" && u.has_authority() && !u.has_userinfo() && loopback_host(u);
}

}  // namespace

bool is_loopback_redirect(std::string_view uri) {
    auto u = parse(uri);
    return u && loopback(*u);
}

bool redirect_uri_matches(std::string_view registered, std::string_view requested) {
    if (registered == requested) return true;
    auto reg = parse(registered);
    auto req = parse(requested);
    if (!reg || !req || !loopback(*reg) || !loopback(*req)) return false;
    // Same literal host, any port; everything after the authority byte for byte.
    return reg->encoded_host() == req->encoded_host() &&
           reg->encoded_path() == req->encoded_path() && reg->has_query() == req->has_query() &&
           reg->encoded_query() == req->encoded_query() && !req->has_fragment();
}

bool registrable_redirect_uri(std::string_view uri) {
    auto u = parse(uri);
    if (!u || u->has_fragment() || u->has_userinfo()) return false;
    if (u->scheme() == "https") return u->has_authority() && !u->encoded_host().empty();
    if (u->scheme() == "http") return loopback(*u);
    return u->scheme().find('.') != std::string_view::npos;
}

}  // namespace latchkey::flows::server
