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

// `latch help [COMMAND...]` (the command's --help on stdout) and `latch version` (issue 17
// #4). They end the parse with CLI::Success (exit 0), or CLI::RuntimeError(2) for an
// unknown command after saying so.
void register_help_commands(CLI::App& cli);

// Prints a parse error and returns the exit code (2; help's own code when it already
// printed). An unknown command gets "unknown command 'logni'; did you mean `latch
// login`?" and the usage of the command it was typed under; no command at all, the usage.
int report_usage_error(const CLI::ParseError& e, const CLI::App& root, int argc,
                       const char* const* argv);

}  // namespace latchkey::cli
