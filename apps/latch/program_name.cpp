#include "cli_tools.hpp"

#include <string_view>

namespace latchkey::cli {

std::vector<char*> argv_for_program_name(int argc, char** argv) {
    if (argc < 1 || !argv[0]) return {};
    std::string_view name = argv[0];
    if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    if (name != "docker-credential-latch") return {};
    static char latch[] = "latch";
    static char command[] = "docker-credential";
    std::vector<char*> out{latch, command};
    out.insert(out.end(), argv + 1, argv + argc);
    out.push_back(nullptr);
    return out;
}

}  // namespace latchkey::cli
