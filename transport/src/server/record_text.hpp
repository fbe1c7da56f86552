// Lists stored as space-separated TEXT (redirect URIs, grant names: no spaces inside), for
// both adapters' row mappers.
#pragma once

#include <string>
#include <vector>

namespace latchkey::transport::server::detail {

inline std::string join_words(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out.push_back(' ');
        out += s;
    }
    return out;
}

inline std::vector<std::string> split_words(const std::string& s) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto sp = s.find(' ', i);
        const auto end = sp == std::string::npos ? s.size() : sp;
        if (end > i) out.push_back(s.substr(i, end - i));
        i = end + 1;
    }
    return out;
}

}  // namespace latchkey::transport::server::detail
