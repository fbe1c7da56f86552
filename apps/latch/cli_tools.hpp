// The CLI's self-description: shell completions, the man page, `latch help environment`
// and the examples in --help, all generated from the CLI11 definition (cli_model.hpp).
#pragma once

#include "cli_model.hpp"

#include <string>
#include <string_view>

namespace latchkey::cli {

// completion.cpp: a completion script for `shell` ("bash", "zsh" or "fish"); empty for
// another shell. `program` is the command the script completes ("latch").
std::string completion_script(std::string_view shell, const command_info& root,
                              std::string_view program);

// manpage.cpp: latch(1) in roff (man(7) macros).
std::string man_page(const command_info& root, std::string_view version);

// help_topics.cpp: every LATCH_* variable latch reads, and the others it honours.
struct env_variable {
    const char* name;
    const char* meaning;
};
extern const env_variable latch_variables[];
extern const env_variable other_variables[];
std::string environment_help();
extern const char* const examples_help;
extern const char* const exit_codes_help;  // commands.cpp (also declared in app.hpp)  // a few common invocations, for --help and the man page

// Adds `latch completion SHELL`, `latch help environment` and the hidden `--man` flag to
// the root, and the examples to its --help footer (after `exit_codes_help`). Each prints
// and ends the parse with CLI::Success: none needs the credential store.
void register_cli_tools(CLI::App& root);

}  // namespace latchkey::cli

namespace latchkey::cli {

// program_name.cpp: installed as a symlink named docker-credential-latch (what docker runs
// for "credsStore": "latch"), latch behaves as `latch docker-credential ARGS`. Returns the
// argv to parse instead (null-terminated, size() - 1 arguments), or an empty vector when
// argv[0] names no alias.
std::vector<char*> argv_for_program_name(int argc, char** argv);

}  // namespace latchkey::cli

namespace latchkey {
struct stored_credentials;
}

namespace latchkey::cli {

class app;
// keyring_note.cpp: `latch context add --storage file|keyring` (into context_config::extra
// "storage"), and after a login into a keyring context, where its refresh token went.
void add_storage_option(CLI::App& add, std::string& storage);
void note_refresh_token_storage(app& a, const std::string& ctx, const stored_credentials& saved);

}  // namespace latchkey::cli
