// "Did you mean …?" for a mistyped name (a `latch` subcommand, issue 17 #4).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace latchkey {

// The Levenshtein distance between `a` and `b` (insertions, deletions, substitutions), with
// an adjacent transposition counting as one edit ("logni" -> "login" is 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidates closest to `typed`, best first (ties in the candidates' order): those
// within max(1, |typed| / 3) edits, or that `typed` is a prefix of (2+ characters). Empty
// when none is close.
std::vector<std::string> closest_names(std::string_view typed,
                                       const std::vector<std::string>& candidates);

}  // namespace latchkey
