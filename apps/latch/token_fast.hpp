// The fast path of `latch token` (issue 16, P3): see token_fast.cpp.
#pragma once

namespace latchkey::cli {

// When argv is exactly `token`, with at most a `--context NAME` (before or after it), and
// the context's stored access token is valid beyond the CLI's refresh window: prints it as
// `latch token` would and returns true. Otherwise returns false having printed nothing,
// and the caller goes the normal way (which reports every error and refreshes).
bool print_cached_token(int argc, char** argv);

}  // namespace latchkey::cli
