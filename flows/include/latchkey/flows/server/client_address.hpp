// The client address of a request behind reverse proxies (rate limits, audit lines,
// sessions' IP): X-Forwarded-For is read only when the socket's peer is a trusted proxy, and
// then from the right, skipping trusted hops, so a client cannot choose its own bucket by
// sending the header, and one proxy's address never stands for every client (the Better
// Auth failure: a multi-hop header collapsed everyone into one global bucket).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::flows::server {

// An IPv4 or IPv6 network ("10.0.0.0/8", "fd00::/8"; a bare address is /32 or /128).
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as IPv4.
struct cidr {
    std::array<unsigned char, 16> network{};
    int bits = 0;
    bool v4 = false;
};

// nullopt when malformed (or host bits set past the prefix: "10.0.0.1/8" is refused, it is
// probably a typo).
std::optional<cidr> parse_cidr(std::string_view text);
bool cidr_contains(const cidr& net, std::string_view address);

// `peer` when it is not a trusted proxy or there is no usable header; otherwise the
// right-most X-Forwarded-For entry that is not itself a trusted proxy (the left-most when all
// are). A malformed entry ends the walk: the hop before it (trusted) is the client.
std::string client_address(std::string_view peer, std::string_view forwarded_for, const std::vector<cidr>& trusted);

}  // namespace latchkey::flows::server
