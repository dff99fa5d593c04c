#pragma once
// A time budget the schedule obeys: `patchgrad train --time 60m`.
//
// The warmup-and-cosine schedule (optim/schedule.h) must know the run's last step in advance: the cosine
// reaches its floor there. A budget in minutes does not say how many steps that is; this machine's speed
// does. So the run measures its speed first, then fixes the number of steps that fit:
//
//   1. probe      a few real training steps (forward + backward on real, augmented batches; the weights
//                 are not updated and no random draw of the run is consumed) and one evaluation batch,
//                 timed: seconds per step t_step, seconds per evaluated image t_eval;
//   2. plan       the largest S such that everything left fits the time that is left:
//
//                     S t_step  +  ceil(S / N) (E t_eval + t_save)  <=  margin (budget - elapsed)
//
//                 N steps per epoch, E images evaluated per epoch (validation + test), t_save the time
//                 to save the epoch's checkpoints, margin = kBudgetMargin for the machine's noise;
//   3. fix        S goes into config.json as `steps` (and ceil(S / N) as `epochs`): from there on the run
//                 is an ordinary run of S steps, which `--steps S` repeats and `--resume` continues bit
//                 for bit; the probe changed nothing.
//
// If the machine slows down later (another process takes a core), the deadline still holds: the loop
// stops taking steps when the next one would leave too little time for the final evaluation and save
// (train.cpp), and says so. docs/training.md, "A time budget", walks through it.
#include <cstdint>
#include <string>

namespace patchgrad::cli {

// The fraction of the remaining time the plan may fill: the rest absorbs the machine's noise.
constexpr double kBudgetMargin = 0.97;

// "60m" -> 3600, "1.5h" -> 5400, "90s" -> 90, "1h30m" -> 5400: a number and a unit (s, m or h),
// repeated. Throws UsageError naming `flag` and the text for anything else (a bare number, a negative
// or zero duration, an unknown unit, more than 1000 hours).
double parse_duration(const std::string& text, const std::string& flag);

// What the probe measured, and what the run will do per epoch.
struct BudgetPlanInput {
    double budget_s = 0;         // the whole budget, seconds
    double elapsed_s = 0;        // already spent (loading, building, probing)
    double step_s = 0;           // t_step: one training step
    double eval_image_s = 0;     // t_eval: one evaluated image
    double save_s = 0;           // t_save: the checkpoints and metrics written after each epoch
    int64_t steps_per_epoch = 0; // N
    int64_t eval_images = 0;     // E: validation + test images evaluated after each epoch
};

// The largest S >= 0 that satisfies the inequality above (0: not even one step fits).
int64_t plan_steps(const BudgetPlanInput& input);

// The seconds that S steps take by the plan's own estimate (the left side of the inequality).
double planned_seconds(const BudgetPlanInput& input, int64_t steps);

}  // namespace patchgrad::cli
