// JSON accessors shared by the core codecs; not installed, not part of the API.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace latchkey::detail {

// The string member `key` of `o`; empty when it is absent or not a string.
inline std::string json_str(const boost::json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string())
                                                    : std::string{};
}

}  // namespace latchkey::detail
