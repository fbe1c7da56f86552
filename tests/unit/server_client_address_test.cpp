// Trusted-proxy aware client addresses (flows/server/client_address.hpp).
#include <latchkey/flows/server/client_address.hpp>

#include <catch2/catch.hpp>

using namespace latchkey::flows::server;

namespace {

std::vector<cidr> nets(std::initializer_list<const char*> list) {
    std::vector<cidr> out;
    for (auto* s : list) out.push_back(parse_cidr(s).value());
    return out;
}

}  // namespace

TEST_CASE("client_address: X-Forwarded-For counts only from trusted proxies, read from the right",
          "[unit][server][proxy]") {
    const auto trusted = nets({"10.0.0.0/8", "fd00::/8"});
    // A client sending the header itself chooses nothing.
    CHECK(client_address("203.0.113.7", "1.2.3.4", trusted) == "203.0.113.7");
    // One proxy: the entry it appended.
    CHECK(client_address("10.0.0.5", "198.51.100.9", trusted) == "198.51.100.9");
    // A forged left part is skipped: the right-most untrusted hop is the client.
    CHECK(client_address("10.0.0.5", "6.6.6.6, 198.51.100.9, 10.1.1.1", trusted) == "198.51.100.9");
    // Two clients behind the same proxy chain stay two buckets.
    CHECK(client_address("10.0.0.5", "198.51.100.1, 10.2.2.2", trusted) !=
          client_address("10.0.0.5", "198.51.100.2, 10.2.2.2", trusted));
    // Only trusted hops: the left-most; garbage ends the walk at the last trusted hop.
    CHECK(client_address("10.0.0.5", "10.9.9.9, 10.1.1.1", trusted) == "10.9.9.9");
    CHECK(client_address("10.0.0.5", "198.51.100.9, not-an-ip", trusted) == "10.0.0.5");
    CHECK(client_address("10.0.0.5", "", trusted) == "10.0.0.5");
    // IPv6 and IPv4-mapped peers.
    CHECK(client_address("fd00::1", "2001:db8::7", trusted) == "2001:db8::7");
    CHECK(client_address("::ffff:10.0.0.5", "198.51.100.9", trusted) == "198.51.100.9");
}

TEST_CASE("parse_cidr: networks and single addresses; typos refused", "[unit][server][proxy]") {
    CHECK(parse_cidr("127.0.0.1").has_value());
    CHECK(parse_cidr("::1").has_value());
    CHECK(parse_cidr("0.0.0.0/0").has_value());
    CHECK_FALSE(parse_cidr("10.0.0.1/8").has_value());  // host bits set
    CHECK_FALSE(parse_cidr("10.0.0.0/33").has_value());
    CHECK_FALSE(parse_cidr("10.0.0.0/").has_value());
    CHECK_FALSE(parse_cidr("example.com").has_value());
    CHECK(cidr_contains(parse_cidr("192.168.0.0/16").value(), "192.168.44.1"));
    CHECK_FALSE(cidr_contains(parse_cidr("192.168.0.0/16").value(), "192.169.0.1"));
    CHECK_FALSE(cidr_contains(parse_cidr("192.168.0.0/16").value(), "::1"));
}
