#include <latchkey/core/suggest.hpp>

#include <algorithm>
#include <utility>

namespace latchkey {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: three rows of the classic table.
    std::vector<std::size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                cur[j] = std::min(cur[j], prev2[j - 2] + 1);
        }
        std::swap(prev2, prev);
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::vector<std::string> closest_names(std::string_view typed,
                                       const std::vector<std::string>& candidates) {
    const std::size_t limit = std::max<std::size_t>(1, typed.size() / 3);
    std::vector<std::pair<std::size_t, std::string>> close;
    for (const auto& c : candidates) {
        const std::size_t d = edit_distance(typed, c);
        const bool prefix = typed.size() >= 2 && c.starts_with(typed);
        if (d <= limit || prefix) close.emplace_back(prefix ? 0 : d, c);
    }
    std::stable_sort(close.begin(), close.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    std::vector<std::string> out;
    for (auto& [d, c] : close) out.push_back(std::move(c));
    return out;
}

}  // namespace latchkey
