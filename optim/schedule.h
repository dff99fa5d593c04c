#pragma once
// Learning-rate schedules: the learning rate as a function of the step (0, 1, 2, ...). A training loop
// calls optimizer.set_lr(warmup_cosine_lr(step, ...)) before each optimizer.step(). docs/optimizers.md
// tells why warm up, and why decay.
//
// warmup_cosine_lr, with W = warmup_steps, S = total_steps, base = base_lr, min = min_lr:
//
//     step < W:        lr = base * (step + 1) / W                             linear: base/W, 2 base/W, ..., base
//     W <= step < S:   lr = min + (base - min) * (1 + cos(pi * (step - W) / (S - W))) / 2
//                                                                             cosine: base at W, down to min at S
//     step >= S:       lr = min
//
// e.g. W = 10, S = 110, base = 1e-3, min = 1e-5: step 0 -> 1e-4, step 9 -> 1e-3, step 10 -> 1e-3,
// step 60 -> (1e-3 + 1e-5) / 2 = 5.05e-4, step 110 -> 1e-5. The warmup ends at base rather than starting
// at 0, so no step is wasted with lr = 0.
#include <cstdint>
#include <string>

#include "core/scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// 0 <= warmup_steps <= total_steps, total_steps > 0, 0 <= min_lr <= base_lr, step >= 0.
Scalar warmup_cosine_lr(int64_t step, int64_t warmup_steps, int64_t total_steps, Scalar base_lr, Scalar min_lr);

// The constant schedule, with the same optional linear warmup:
//     step < W:  lr = base * (step + 1) / W          step >= W:  lr = base
// warmup_steps = 0 gives base at every step.
Scalar constant_lr(int64_t step, int64_t warmup_steps, Scalar base_lr);

// A schedule as a value, for a configuration: kind "cosine" (warmup_cosine_lr) or "constant" (constant_lr,
// which ignores total_steps and min_lr).
struct LrSchedule {
    std::string kind = "cosine";  // "cosine" or "constant"
    int64_t warmup_steps = 0;     // e.g. 500
    int64_t total_steps = 1;      // e.g. 10000: where the cosine reaches min_lr
    Scalar base_lr = 1e-3;        // e.g. 1e-3: the peak, reached at the end of the warmup
    Scalar min_lr = 0;            // e.g. 1e-5: the floor of the cosine

    Scalar at(int64_t step) const;  // throws for an unknown kind, naming it
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
