// latch-idp platforms (seed 003: every platform has its own auth service and database): the
// names, and which platform a request is for. One process serves N platforms; a request
// reaches one by its Host header (a platform with a host name, e.g. auth.acme.example) or by
// the path prefix /p/NAME/ (a platform without one, on a shared loopback port).
// Pure: no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::flows::server {

inline constexpr std::size_t max_platform_name = 32;

// A platform name: 1 to 32 of [a-z0-9-], not starting or ending with '-'. It names a
// directory (DATA/platforms/NAME) and a path segment, so nothing else is allowed.
bool valid_platform_name(std::string_view name);

// A --host value: a DNS name ([a-z0-9.-] labels, case-insensitive) with an optional :PORT.
// Returns it lowercased, or nullopt when it is not one.
std::optional<std::string> canonical_platform_host(std::string_view host);

// The host name of a Host header (or a --host value): lowercased, without the port; IPv6
// literals keep their brackets. Empty when the header is empty or malformed.
std::string host_name_of(std::string_view host_header);

struct platform_entry {
    std::string name;
    std::string host;  // host name (host_name_of form); empty: reached by /p/NAME/
};

struct platform_match {
    std::size_t index = 0;  // into the table
    std::string target;     // the request target for that platform: "/oauth2/token?x=1"
};

// Which platform `target` + `host_header` is for. A platform with a host is matched by the
// Host header's host name alone (the whole target is its own); a platform without one by
// the target's first segments /p/NAME/ exactly (the rest, starting with '/', is its target;
// "/p/NAME" alone and "/p/NAME?q" become "/" and "/?q"). nullopt (answer 404, name nothing)
// when neither matches or the rest is hostile: a dot segment (".", "..", also
// percent-encoded), an empty segment ("//"), a backslash, or a target not in origin form.
std::optional<platform_match> route_platform(std::string_view target, std::string_view host_header,
                                             const std::vector<platform_entry>& table);

// The issuer of a platform: `configured` when set (no trailing '/'); else
// scheme://HOST (https) or http://HOST:PORT when it has a host (HOST without its own port);
// else `listener_url` + "/p/NAME".
std::string platform_issuer(const platform_entry& p, std::string_view configured, std::string_view listener_url,
                            bool https, unsigned port);

}  // namespace latchkey::flows::server
