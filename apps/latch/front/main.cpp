// The `latch` users run: a small front for the full CLI (issue 16, P3).
//
// Scripts and credential helpers run `latch token` per request, and most of those starts
// find a valid cached token. The full program (latch-cli: CLI11, Asio, Beast, OpenSSL,
// linked statically) spends more before main() than the whole answer costs: ~26 000
// relative relocations under PIE, 58 static initialisers, ~260 page faults, against
// `cat`'s ~75 (bench/README.md). This front links only the credential store (core and
// Boost.JSON): it prints a valid cached token itself (token_fast.cpp, the same store
// calls as the full path) and otherwise execs the full CLI with the same argv, so every
// other command, message and exit code is the full program's own.
//
// Where the full CLI is: next to this file in a build tree (latch-cli), else
// LATCH_CLI_FROM_BIN relative to this file's directory once installed
// (../libexec/latchkey/latch-cli).
#include "../token_fast.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef LATCH_CLI_FROM_BIN
#define LATCH_CLI_FROM_BIN "../libexec/latchkey/latch-cli"
#endif

namespace {

std::string own_dir() {
    char buf[4096];
    const auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    std::string path(buf, static_cast<std::size_t>(n));
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

}  // namespace

int main(int argc, char** argv) {
    ::prctl(PR_SET_DUMPABLE, 0);  // as latch-cli: no core dump or ptrace peer gets the token
    std::signal(SIGPIPE, SIG_IGN);
    if (latchkey::cli::print_cached_token(argc, argv)) return 0;

    const std::string dir = own_dir();
    const std::string candidates[] = {dir + "/latch-cli", dir + "/" + LATCH_CLI_FROM_BIN};
    int err = ENOENT;
    for (const auto& path : candidates) {
        if (dir.empty()) break;
        ::execv(path.c_str(), argv);  // returns only on failure
        if (errno != ENOENT) err = errno;
    }
    std::fprintf(stderr, "latch: cannot run the latch CLI (%s next to %s): %s\n",
                 LATCH_CLI_FROM_BIN, dir.empty() ? "this program" : dir.c_str(),
                 std::strerror(err));
    return 1;
}
