#include "gradcheck.h"

#include <algorithm>
#include <cmath>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// L(x) = sum(f(x) * probe), accumulated in double whatever the flavour.
static double probed_loss(const TensorFunction& f, const std::vector<Tensor>& inputs, const Tensor& probe) {
    NoGradGuard no_grad;
    const Tensor out = f(inputs);
    double loss = 0;
    for (int64_t i = 0; i < out.numel(); ++i) loss += static_cast<double>(out.data()[i]) * probe.data()[i];
    return loss;
}

GradcheckReport gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs_in,
                          const GradcheckOptions& options) {
    std::vector<Tensor> inputs = inputs_in;
    const bool any = std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.requires_grad(); });
    check(any, "gradcheck: no input requires grad, so there is nothing to check");

    // The analytic side: one backward seeded with dL/df = probe. Earlier grads are set aside and restored.
    std::vector<Tensor> saved_grads;
    for (Tensor& x : inputs) {
        saved_grads.push_back(x.requires_grad() ? x.grad() : Tensor());
        if (x.requires_grad()) x.zero_grad();
    }
    Tensor out = f(inputs);
    check(out.requires_grad(), "gradcheck: the output of f does not depend on any input that requires grad");
    Rng rng(options.seed);
    const Tensor probe = Tensor::normal(out.shape(), 0, 1, rng);
    out.backward(probe);

    GradcheckReport report;
    for (size_t k = 0; k < inputs.size(); ++k) {
        Tensor& x = inputs[k];
        if (!x.requires_grad()) continue;
        GradcheckInput result;
        result.index = static_cast<int64_t>(k);
        result.shape = x.shape();
        const Tensor grad = x.grad();
        for (int64_t j = 0; j < x.numel(); ++j) {
            // The numeric side: nudge one element down and up, measure L, put the element back.
            Scalar& element = x.data()[j];
            const Scalar original = element;
            element = static_cast<Scalar>(original + options.eps);
            const double loss_plus = probed_loss(f, inputs, probe);
            element = static_cast<Scalar>(original - options.eps);
            const double loss_minus = probed_loss(f, inputs, probe);
            element = original;
            const double numeric = (loss_plus - loss_minus) / (2 * options.eps);
            const double analytic = grad.defined() ? static_cast<double>(grad.data()[j]) : 0.0;

            const double abs_error = std::abs(analytic - numeric);
            const double rel_error = abs_error / std::max(std::abs(numeric), 1e-12);
            result.max_abs_error = std::max(result.max_abs_error, abs_error);
            if (abs_error > options.atol) result.max_rel_error = std::max(result.max_rel_error, rel_error);
            if (result.passed && abs_error > options.atol + options.rtol * std::abs(numeric)) {
                result.passed = false;
                result.failure = format_message("input ", k, " ", x.shape(), " element ", j, ": analytic ", analytic,
                                        " vs numeric ", numeric, " (difference ", abs_error, ", allowed ",
                                        options.atol + options.rtol * std::abs(numeric), ")");
            }
            result.analytic.push_back(analytic);
            result.numeric.push_back(numeric);
            ++result.checked;
        }
        const auto is_zero = [](double v) { return v == 0.0; };
        if (result.passed && std::all_of(result.analytic.begin(), result.analytic.end(), is_zero) &&
            std::all_of(result.numeric.begin(), result.numeric.end(), is_zero)) {
            result.passed = false;
            result.failure = format_message("input ", k, " ", x.shape(), ": analytic and numeric gradients are both all ",
                                    "zero, so the check proves nothing (does the output depend on this input?)");
        }
        report.passed = report.passed && result.passed;
        report.inputs.push_back(std::move(result));
    }
    for (size_t k = 0; k < inputs.size(); ++k) {
        if (!inputs[k].requires_grad()) continue;
        inputs[k].zero_grad();
        if (saved_grads[k].defined())
            std::copy_n(saved_grads[k].data(), saved_grads[k].numel(), inputs[k].grad_data());
    }
    return report;
}

std::string GradcheckReport::message() const {
    std::string text;
    for (const GradcheckInput& input : inputs)
        if (!input.passed) text += (text.empty() ? "gradcheck failed: " : "\n                  ") + input.failure;
    return text.empty() ? "gradcheck passed" : text;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
