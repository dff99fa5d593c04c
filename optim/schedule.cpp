#include "optim/schedule.h"

#include <cmath>
#include <numbers>

#include "core/check.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

static void check_warmup(const char* schedule, int64_t step, int64_t warmup_steps, Scalar base_lr) {
    check(step >= 0, schedule, ": step must be >= 0, got ", step);
    check(warmup_steps >= 0, schedule, ": warmup_steps must be >= 0, got ", warmup_steps);
    check(base_lr >= 0 && std::isfinite(base_lr), schedule, ": base_lr must be a finite number >= 0, got ", base_lr);
}

// base * (step + 1) / W, the fraction taken first so that the last warmup step gives exactly base.
static Scalar warmup_lr(int64_t step, int64_t warmup_steps, Scalar base_lr) {
    const double fraction = static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    return static_cast<Scalar>(fraction * base_lr);
}

Scalar warmup_cosine_lr(int64_t step, int64_t warmup_steps, int64_t total_steps, Scalar base_lr, Scalar min_lr) {
    check_warmup("warmup_cosine_lr", step, warmup_steps, base_lr);
    check(total_steps > 0 && warmup_steps <= total_steps, "warmup_cosine_lr: need 0 <= warmup_steps <= total_steps ",
          "and total_steps > 0, got warmup_steps ", warmup_steps, " and total_steps ", total_steps);
    check(min_lr >= 0 && min_lr <= base_lr, "warmup_cosine_lr: need 0 <= min_lr <= base_lr, got min_lr ", min_lr,
          " and base_lr ", base_lr);
    if (step < warmup_steps) return warmup_lr(step, warmup_steps, base_lr);
    if (step >= total_steps) return min_lr;
    // progress runs from 0 (step == W) towards 1 (step == S); here W <= step < S, so S - W > 0.
    const double progress = static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));  // 1 -> 0
    return static_cast<Scalar>(min_lr + (static_cast<double>(base_lr) - min_lr) * cosine);
}

Scalar constant_lr(int64_t step, int64_t warmup_steps, Scalar base_lr) {
    check_warmup("constant_lr", step, warmup_steps, base_lr);
    if (step < warmup_steps) return warmup_lr(step, warmup_steps, base_lr);
    return base_lr;
}

Scalar LrSchedule::at(int64_t step) const {
    if (kind == "cosine") return warmup_cosine_lr(step, warmup_steps, total_steps, base_lr, min_lr);
    if (kind == "constant") return constant_lr(step, warmup_steps, base_lr);
    throw std::invalid_argument(format_message("LrSchedule: unknown kind '", kind, "' (expected 'cosine' or 'constant')"));
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
