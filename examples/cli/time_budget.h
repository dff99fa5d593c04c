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
//   4. measure    the probe's few steps run in a process that has just started, and a machine's first
//      again      seconds can be slow (fresh memory to map, a build's or a copy's after-effects), while
//                 a shared machine's speed wanders by several percent from minute to minute: a probe
//                 40% slow plans a run 30% short. So the run times its own steps from step kRemeasureFrom
//                 on (every step of the loop: the data, the update, the bookkeeping) and plans again with
//                 their mean, and with its own evaluations' time once one has run, at the end of each
//                 epoch of the warmup and at the warmup's last step (is_replan_step). Those steps are
//                 still in the warmup, where the learning rate depends on the warmup's length only, not
//                 on S: a new S that keeps the warmup's length changes nothing already done, and
//                 `--steps S` still repeats the run bit for bit. The later plans rest on more steps, so
//                 on a less noisy mean. When the warmup would change, or the epoch under way would be
//                 cut, the plan before stands.
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

// A plan's schedule: S steps, and the warmup, cut to a fifth of S if it was longer (as --epochs does).
struct BudgetPlan {
    int64_t steps = 0;         // S
    double warmup_epochs = 0;  // min(requested, S / (5 N)), written to config.json
    int64_t warmup_steps = 0;  // W = min(S, round(warmup_epochs x N)): what the schedule uses
};
BudgetPlan make_plan(const BudgetPlanInput& input, double requested_warmup_epochs);

// Step 4: the steps before kRemeasureFrom are not timed (the first ones map fresh memory); a plan made
// again rests on at least kRemeasureMinSteps timed steps.
constexpr int64_t kRemeasureFrom = 5, kRemeasureMinSteps = 40;

// Whether the plan is made again once `steps_done` steps are taken (N steps per epoch, W warmup steps):
// at the end of each epoch within the warmup and at the warmup's last step, once enough steps are timed.
bool is_replan_step(int64_t steps_done, int64_t steps_per_epoch, int64_t warmup_steps);

// The plan `current` made again from `remeasured` (elapsed_s: now; step_s: the timed steps' mean;
// eval_image_s: the last evaluation's, if one has run), with `steps_done` steps taken. It is returned only
// if it changes nothing already done: every step taken was a warmup step, the warmup keeps its length W,
// and the epoch under way stays whole (S reaches its end); otherwise `current` is returned unchanged.
BudgetPlan remeasured_plan(const BudgetPlan& current, BudgetPlanInput remeasured, double requested_warmup_epochs,
                           int64_t steps_done);

}  // namespace patchgrad::cli
