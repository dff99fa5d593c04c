#pragma once
// ProgressLine: the live line on stderr while an epoch trains.
//
//   epoch 3/15  batch 120/391  loss 1.4321  acc 48.7%  312 img/s  ETA 41m05s
//   epoch 3/29  batch 120/391  loss 1.4321  acc 48.7%  312 img/s  ETA 51m40s  budget left 52m12s   (--time)
//
// On a terminal (isatty) the line is redrawn in place with '\r' at most a few times a second; otherwise
// (a log file, a pipe, CI) one plain line is printed every 10% of the epoch, so logs stay short.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace patchgrad::cli {

// "1h02m03s", "4m05s", "7s": a duration for people.
std::string format_duration(double seconds);

class ProgressLine {
public:
    // stream: where to draw (stderr, or nullptr for nothing); interactive: redraw in place.
    ProgressLine(std::FILE* stream, bool interactive);
    // The state after batch k (1-based) of N in `epoch` (1-based) of `epochs`; loss and accuracy are the
    // epoch's running means, images_per_s the epoch's rate so far, eta_s the whole run's remaining time,
    // budget_left_s what is left of a --time budget (negative: no budget, not shown).
    void update(int64_t epoch, int64_t epochs, int64_t k, int64_t N, double loss, double accuracy,
                double images_per_s, double eta_s, double budget_left_s = -1);
    // Ends the line (a newline after an in-place line), so the next output starts clean.
    void finish();

private:
    std::FILE* stream_;
    bool interactive_;
    bool open_ = false;  // an in-place line is on the screen
    int64_t last_tenth_ = -1;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace patchgrad::cli
