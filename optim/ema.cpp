#include "optim/ema.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/parallel.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

static constexpr const char* kName = "ExponentialMovingAverage";

ExponentialMovingAverage::ExponentialMovingAverage(NamedTensors params, double decay)
    : params_(std::move(params)), decay_(decay) {
    check(decay >= 0 && decay < 1, kName, ": decay must be in [0, 1), got ", decay);  // a NaN fails too
    check(!params_.empty(), kName, ": got an empty parameter list");
    for (size_t i = 0; i < params_.size(); ++i) {
        const auto& [param_name, p] = params_[i];
        check(!param_name.empty(), kName, ": parameter ", i, " has an empty name");
        check(p.defined(), kName, ": parameter '", param_name, "' is an undefined tensor");
        check(p.is_leaf(), kName, ": parameter '", param_name, "' ", p.shape(), " is the output of '", p.op_name(),
              "', not a leaf: the average follows a model's parameters, which are leaves");
        for (size_t j = 0; j < i; ++j) {
            check(params_[j].first != param_name, kName, ": two parameters are named '", param_name, "'");
            check(!params_[j].second.same(p), kName, ": parameters '", params_[j].first, "' and '", param_name,
                  "' are the same tensor: it would be swapped twice");
        }
        averages_.push_back(p.clone());  // the average starts at the weights it is made from
    }
}

// TensorFlow's rule (tf.train.ExponentialMovingAverage with num_updates): (1 + t) / (10 + t) is 0.1 at
// t = 0 and reaches decay at t = (10 decay - 1) / (1 - decay): step 8990 for 0.999, 89990 for 0.9999.
double ExponentialMovingAverage::decay_at(int64_t step) const {
    check(step >= 0, kName, ": step must be >= 0, got ", step);
    const double t = static_cast<double>(step);
    return std::min(decay_, (1.0 + t) / (10.0 + t));
}

// a <- d * a + (1 - d) * p, elementwise. 1 - d is formed in double, then rounded: in float, 0.9999 is
// 0.99989998, and 1 - float(0.9999) would be 1.0002e-4 instead of 1e-4.
void ExponentialMovingAverage::update(int64_t step) {
    check(!swapped_, kName, ": update: the model holds the averaged weights (swapped in); swap them back first");
    const double d = decay_at(step);
    const Scalar keep = static_cast<Scalar>(d), take = static_cast<Scalar>(1.0 - d);
    for (size_t i = 0; i < params_.size(); ++i) {
        const Scalar* p = params_[i].second.data();
        Scalar* a = averages_[i].data();
        const int64_t n = averages_[i].numel();
#pragma omp parallel for if (n >= kParallelElements)  // iteration j owns a[j]
        for (int64_t j = 0; j < n; ++j) a[j] = keep * a[j] + take * p[j];
    }
}

void ExponentialMovingAverage::swap_with_model() {
    for (size_t i = 0; i < params_.size(); ++i) {
        Scalar* p = params_[i].second.data();
        Scalar* a = averages_[i].data();
        const int64_t n = averages_[i].numel();
#pragma omp parallel for if (n >= kParallelElements)  // iteration j owns p[j] and a[j]
        for (int64_t j = 0; j < n; ++j) std::swap(p[j], a[j]);
    }
    swapped_ = !swapped_;
}

// ---- checkpoints ----------------------------------------------------------------------------------------

NamedTensors ExponentialMovingAverage::state() const {
    NamedTensors out;
    for (size_t i = 0; i < params_.size(); ++i) {
        const Tensor& average = swapped_ ? params_[i].second : averages_[i];  // wherever the averages are now
        out.emplace_back("ema." + params_[i].first, average.clone());
    }
    return out;
}

void ExponentialMovingAverage::load_state(const NamedTensors& state) {
    check(!swapped_, kName, ": load_state: the model holds the averaged weights (swapped in); swap them back first");
    // The given state, by name.
    std::map<std::string, Tensor> given;
    for (const auto& [state_name, t] : state) {
        check(t.defined(), kName, ": load_state: '", state_name, "' is an undefined tensor");
        check(given.emplace(state_name, t).second, kName, ": load_state: the state names '", state_name, "' twice");
    }
    // The names this EMA expects: one average per parameter.
    std::vector<std::string> unknown, missing;
    std::map<std::string, size_t> expected;
    for (size_t i = 0; i < params_.size(); ++i) expected.emplace("ema." + params_[i].first, i);
    for (const auto& [state_name, t] : given)
        if (!expected.count(state_name)) unknown.push_back(state_name);
    for (const auto& [state_name, i] : expected)
        if (!given.count(state_name)) missing.push_back(state_name);
    check(unknown.empty() && missing.empty(), kName, ": load_state: the state does not fit this model: ",
          unknown.empty() ? "" : "unexpected " + some_names(unknown), unknown.empty() || missing.empty() ? "" : "; ",
          missing.empty() ? "" : "missing " + some_names(missing), " (was it saved for another model?)");

    // Shapes, all checked before anything changes.
    for (const auto& [state_name, i] : expected) {
        const Tensor& t = given.at(state_name);
        const auto& [param_name, p] = params_[i];
        check(t.shape() == p.shape(), kName, ": load_state: '", state_name, "' has shape ", t.shape(),
              " but parameter '", param_name, "' has shape ", p.shape());
    }

    // Copy the numbers: the caller keeps its tensors, the EMA its own.
    for (const auto& [state_name, i] : expected) {
        const Tensor& source = given.at(state_name);
        std::copy(source.data(), source.data() + source.numel(), averages_[i].data());
    }
}

// ---- the guard ------------------------------------------------------------------------------------------

AveragedWeightsGuard::AveragedWeightsGuard(ExponentialMovingAverage& average) : average_(average) {
    check(!average.swapped(), "AveragedWeightsGuard: the averaged weights are swapped in already; a second swap ",
          "would put the training weights back");
    average_.swap_with_model();
}

AveragedWeightsGuard::~AveragedWeightsGuard() { average_.swap_with_model(); }

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
