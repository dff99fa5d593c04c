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

}  // namespace patchgrad::cli
