// Command-line (usage) errors that never repeat what was typed as a value: a token, a
// password or a secret passed by mistake would otherwise land on stderr, in CI logs and
// in bug reports (issue 17, defect 1).
#pragma once

#include <string>

namespace CLI { class App; class ParseError; }

namespace latchkey::cli {

// The one-line message for a parse error of `argv` (exit 2). Option names and command
// names are kept; every other argument is replaced by "<value>". A token on the command
// line (`--token X`, `--with-token X`, `--token=X`) gets the stdin form instead.
std::string describe_usage_error(const CLI::ParseError& e, const CLI::App& root, int argc,
                                 const char* const* argv);

}  // namespace latchkey::cli
