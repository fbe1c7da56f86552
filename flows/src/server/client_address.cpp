#include <latchkey/flows/server/client_address.hpp>

#include <arpa/inet.h>

#include <cstring>

namespace latchkey::flows::server {

namespace {

struct parsed_ip {
    std::array<unsigned char, 16> bytes{};
    bool v4 = false;
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::optional<parsed_ip> parse_ip(std::string_view text) {
    const std::string s(trim(text));
    parsed_ip out;
    if (::inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) {
        out.v4 = true;
        return out;
    }
    if (::inet_pton(AF_INET6, s.c_str(), out.bytes.data()) != 1) return std::nullopt;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out.bytes.data(), mapped, 12) == 0) {
        std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
        std::memset(out.bytes.data() + 4, 0, 12);
        out.v4 = true;
    }
    return out;
}

bool prefix_equal(const std::array<unsigned char, 16>& a, const std::array<unsigned char, 16>& b, int bits) {
    const int whole = bits / 8, rest = bits % 8;
    if (std::memcmp(a.data(), b.data(), static_cast<std::size_t>(whole)) != 0) return false;
    if (rest == 0) return true;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a[static_cast<std::size_t>(whole)] & mask) == (b[static_cast<std::size_t>(whole)] & mask);
}

bool trusted_hop(std::string_view address, const std::vector<cidr>& trusted) {
    for (const auto& net : trusted)
        if (cidr_contains(net, address)) return true;
    return false;
}

}  // namespace

std::optional<cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    cidr out{ip->bytes, ip->v4 ? 32 : 128, ip->v4};
    if (slash != std::string_view::npos) {
        const auto len = text.substr(slash + 1);
        if (len.empty() || len.size() > 3) return std::nullopt;
        int bits = 0;
        for (char c : len) {
            if (c < '0' || c > '9') return std::nullopt;
            bits = bits * 10 + (c - '0');
        }
        if (bits > out.bits) return std::nullopt;
        out.bits = bits;
    }
    // Host bits must be zero: "10.0.0.1/8" is more likely a mistake than a network.
    std::array<unsigned char, 16> masked{};
    for (int i = 0; i < out.bits; ++i)
        if (out.network[static_cast<std::size_t>(i / 8)] & (0x80 >> (i % 8)))
            masked[static_cast<std::size_t>(i / 8)] |= static_cast<unsigned char>(0x80 >> (i % 8));
    if (masked != out.network) return std::nullopt;
    return out;
}

bool cidr_contains(const cidr& net, std::string_view address) {
    auto ip = parse_ip(address);
    return ip && ip->v4 == net.v4 && prefix_equal(ip->bytes, net.network, net.bits);
}

std::string client_address(std::string_view peer, std::string_view forwarded_for, const std::vector<cidr>& trusted) {
    if (!trusted_hop(peer, trusted) || trim(forwarded_for).empty()) return std::string(peer);
    std::string_view client = peer;
    std::string_view rest = forwarded_for;
    while (!rest.empty()) {
        const auto comma = rest.rfind(',');
        const auto hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (!parse_ip(hop)) break;  // garbage: the last trusted hop saw the client
        client = hop;
        if (!trusted_hop(hop, trusted)) break;
    }
    return std::string(client);
}

}  // namespace latchkey::flows::server
