// Measurements shared by the scenarios.
#include "bench.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace latchkey::bench {

usage current_usage() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    usage u;
    u.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    u.max_rss_kib = ru.ru_maxrss;
    return u;
}

long current_rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            std::istringstream is(line.substr(6));
            long kib = 0;
            is >> kib;
            return kib;
        }
    }
    return 0;
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    if (idx > 0) --idx;
    return v[std::min(idx, v.size() - 1)];
}

}  // namespace latchkey::bench
