#include "examples/cli/progress.h"

#include <cmath>

namespace patchgrad::cli {

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const auto total = static_cast<int64_t>(std::llround(seconds));
    const int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
    char text[48];
    if (h > 0)
        std::snprintf(text, sizeof text, "%lldh%02lldm%02llds", static_cast<long long>(h), static_cast<long long>(m),
                      static_cast<long long>(s));
    else if (m > 0)
        std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(m), static_cast<long long>(s));
    else
        std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
    return text;
}

ProgressLine::ProgressLine(std::FILE* stream, bool interactive) : stream_(stream), interactive_(interactive) {}

void ProgressLine::update(int64_t epoch, int64_t epochs, int64_t k, int64_t N, double loss, double accuracy,
                          double images_per_s, double eta_s, double budget_left_s) {
    if (!stream_) return;
    const auto now = std::chrono::steady_clock::now();
    if (interactive_) {
        // At most 5 redraws a second, and always the epoch's last batch.
        if (open_ && k < N && now - last_draw_ < std::chrono::milliseconds(200)) return;
    } else {
        const int64_t tenth = k * 10 / N;  // 0..10: print the first batch and each new tenth of the epoch
        if (k != 1 && tenth <= last_tenth_) return;
        last_tenth_ = tenth;
    }
    last_draw_ = now;
    const std::string budget = budget_left_s >= 0 ? "  budget left " + format_duration(budget_left_s) : "";
    std::fprintf(stream_, "%sepoch %lld/%lld  batch %lld/%lld  loss %.4f  acc %.1f%%  %.0f img/s  ETA %s%s%s",
                 interactive_ ? "\r" : "", static_cast<long long>(epoch), static_cast<long long>(epochs),
                 static_cast<long long>(k), static_cast<long long>(N), loss, 100 * accuracy, images_per_s,
                 format_duration(eta_s).c_str(), budget.c_str(), interactive_ ? "\033[K" : "\n");
    std::fflush(stream_);
    open_ = interactive_;
}

void ProgressLine::finish() {
    if (stream_ && open_) {
        std::fputc('\n', stream_);
        std::fflush(stream_);
    }
    open_ = false;
    last_tenth_ = -1;
}

}  // namespace patchgrad::cli
