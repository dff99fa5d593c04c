#include "examples/cli/time_budget.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "examples/cli/args.h"

namespace patchgrad::cli {

double parse_duration(const std::string& text, const std::string& flag) {
    const auto refuse = [&](const std::string& why) -> double {
        throw UsageError(flag + " expects a duration such as 60m, 1.5h, 90s or 1h30m, got '" + printable(text) +
                         "'" + (why.empty() ? "" : ": " + why));
    };
    double seconds = 0;
    size_t at = 0;
    if (text.empty()) refuse("");
    while (at < text.size()) {
        // A plain decimal number: digits, at most one point (no sign, no exponent, no blanks, no hex).
        const size_t start = at;
        bool point = false;
        while (at < text.size() && (std::isdigit(static_cast<unsigned char>(text[at])) || (text[at] == '.' && !point))) {
            point = point || text[at] == '.';
            ++at;
        }
        const std::string digits = text.substr(start, at - start);
        if (digits.empty() || digits == ".") refuse("");
        if (at == text.size()) refuse("the number " + digits + " has no unit (s, m or h)");
        const char unit = text[at++];
        const double scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
        if (scale == 0) refuse(std::string("unknown unit '") + unit + "' (s, m or h)");
        seconds += std::strtod(digits.c_str(), nullptr) * scale;
    }
    if (!(seconds > 0)) refuse("it must be longer than 0");
    if (seconds > 1000.0 * 3600) refuse("at most 1000h");
    return seconds;
}

double planned_seconds(const BudgetPlanInput& in, int64_t steps) {
    const int64_t N = in.steps_per_epoch;
    const int64_t epochs = N > 0 ? (steps + N - 1) / N : 0;  // ceil(S / N): a partial last epoch is evaluated too
    return static_cast<double>(steps) * in.step_s +
           static_cast<double>(epochs) * (static_cast<double>(in.eval_images) * in.eval_image_s + in.save_s);
}

int64_t plan_steps(const BudgetPlanInput& in) {
    const double available = kBudgetMargin * (in.budget_s - in.elapsed_s);
    if (!(available > 0) || !(in.step_s > 0) || in.steps_per_epoch < 1) return 0;
    // planned_seconds grows with S, so the largest S that fits is found by bisection on [0, hi], where hi
    // does not fit: time alone, without evaluations, bounds it.
    int64_t lo = 0;  // fits (0 steps take no time)
    const double most = std::min(std::floor(available / in.step_s), 0x1p40);  // 2^40 steps: no run is longer
    auto hi = static_cast<int64_t>(most) + 1;
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        (planned_seconds(in, mid) <= available ? lo : hi) = mid;
    }
    return lo;
}

namespace {

// A schedule of S steps: the warmup cut to a fifth of S if it was longer.
BudgetPlan schedule_of(int64_t steps, double requested_warmup_epochs, int64_t steps_per_epoch) {
    const auto N = static_cast<double>(std::max<int64_t>(1, steps_per_epoch));
    BudgetPlan plan;
    plan.steps = steps;
    plan.warmup_epochs = std::min(requested_warmup_epochs, static_cast<double>(steps) / (5.0 * N));
    plan.warmup_steps = std::min<int64_t>(steps, std::llround(plan.warmup_epochs * N));
    return plan;
}

}  // namespace

BudgetPlan make_plan(const BudgetPlanInput& in, double requested_warmup_epochs) {
    return schedule_of(plan_steps(in), requested_warmup_epochs, in.steps_per_epoch);
}

bool is_replan_step(int64_t steps_done, int64_t steps_per_epoch, int64_t warmup_steps) {
    const bool boundary = steps_per_epoch > 0 && (steps_done % steps_per_epoch == 0 || steps_done == warmup_steps);
    return boundary && steps_done <= warmup_steps && steps_done >= kRemeasureFrom + kRemeasureMinSteps;
}

BudgetPlan remeasured_plan(const BudgetPlan& current, BudgetPlanInput remeasured, double requested_warmup_epochs,
                           int64_t steps_done) {
    // plan_steps counts steps still to take, and the time of those done is in elapsed_s. The evaluations
    // still to come, one per epoch from the one under way to the last, number at most 1 + ceil(left / N),
    // one more than plan_steps counts: that one is charged in advance.
    const int64_t N = std::max<int64_t>(1, remeasured.steps_per_epoch);
    remeasured.elapsed_s += static_cast<double>(remeasured.eval_images) * remeasured.eval_image_s + remeasured.save_s;
    const BudgetPlan again = schedule_of(steps_done + plan_steps(remeasured), requested_warmup_epochs, N);
    const int64_t epoch_end = std::max<int64_t>(1, (steps_done + N - 1) / N) * N;  // the epoch under way ends here
    const bool past_unchanged = steps_done <= current.warmup_steps && again.warmup_steps == current.warmup_steps;
    const bool epoch_whole = current.steps >= epoch_end && again.steps >= epoch_end;
    return past_unchanged && epoch_whole ? again : current;
}

}  // namespace patchgrad::cli
