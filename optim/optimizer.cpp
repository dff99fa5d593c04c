#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

static bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool decays_by_default(const std::string& name, const Tensor& parameter) {
    if (parameter.dim() <= 1) return false;  // biases, LayerNorm weight and bias
    if (ends_with(name, "cls_token")) return false;
    if (name.find("pos_embed") != std::string::npos) return false;  // pos_embed, absolute_pos_embed
    if (ends_with(name, "relative_position_bias_table")) return false;
    return true;
}

void check_non_negative(const char* optimizer, const char* what, Scalar value) {
    // value >= 0 is false for nan, so nan fails too
    check(value >= 0 && std::isfinite(value), optimizer, ": ", what, " must be a finite number >= 0, got ", value);
}

void check_unit_interval(const char* optimizer, const char* what, Scalar value) {
    check(value >= 0 && value < 1, optimizer, ": ", what, " must be in [0, 1), got ", value);
}

Optimizer::Optimizer(const char* name, NamedTensors params, Scalar lr, const DecayRule& decay_rule)
    : name_(name), params_(std::move(params)) {
    check(!params_.empty(), name_, ": got an empty parameter list");
    for (size_t i = 0; i < params_.size(); ++i) {
        const auto& [param_name, p] = params_[i];
        check(!param_name.empty(), name_, ": parameter ", i, " has an empty name");
        check(p.defined(), name_, ": parameter '", param_name, "' is an undefined tensor");
        check(p.is_leaf(), name_, ": parameter '", param_name, "' ", p.shape(), " is the output of '", p.op_name(),
              "', not a leaf: an optimizer updates leaves (detach() makes one)");
        for (size_t j = 0; j < i; ++j) {
            check(params_[j].first != param_name, name_, ": two parameters are named '", param_name, "'");
            check(!params_[j].second.same(p), name_, ": parameters '", params_[j].first, "' and '", param_name,
                  "' are the same tensor: it would be updated twice per step");
        }
        decays_.push_back(decay_rule(param_name, p));
    }
    param_steps_.assign(params_.size(), 0);
    set_lr(lr);
}

void Optimizer::register_state(const std::string& kind, std::vector<Tensor>& buffers) {
    buffers.clear();
    for (const auto& [param_name, p] : params_) buffers.push_back(Tensor::zeros(p.shape()));
    buffers_.emplace_back(kind, &buffers);
}

void Optimizer::zero_grad() {
    for (auto& [param_name, p] : params_) p.zero_grad();
}

void Optimizer::set_lr(Scalar lr) { check_non_negative(name_, "lr", lr); lr_ = lr; }

std::vector<std::string> Optimizer::decayed_names() const {
    std::vector<std::string> names;
    for (size_t i = 0; i < params_.size(); ++i)
        if (decays_[i]) names.push_back(params_[i].first);
    return names;
}

// ---- checkpoints ----------------------------------------------------------------------------------------

// Step counts travel as Scalar; every whole number below 2^digits (2^24 for float, 2^53 for double) is exact.
static constexpr int64_t kExactSteps = int64_t{1} << std::numeric_limits<Scalar>::digits;

NamedTensors Optimizer::state() const {
    check(step_count_ < kExactSteps, name_, ": state: step count ", step_count_, " is beyond ", kExactSteps,
          ", the last whole number ", scalar_name(), " holds exactly");
    NamedTensors out;
    out.emplace_back("step", Tensor::scalar(static_cast<Scalar>(step_count_)));
    for (size_t i = 0; i < params_.size(); ++i)
        out.emplace_back("step." + params_[i].first, Tensor::scalar(static_cast<Scalar>(param_steps_[i])));
    for (const auto& [kind, buffers] : buffers_)
        for (size_t i = 0; i < params_.size(); ++i) out.emplace_back(kind + "." + params_[i].first, (*buffers)[i].clone());
    return out;
}

std::string some_names(const std::vector<std::string>& names) {
    std::string text;
    const size_t shown = std::min<size_t>(names.size(), 3);
    for (size_t i = 0; i < shown; ++i) text += (i ? ", '" : "'") + names[i] + "'";
    if (names.size() > shown) text += " and " + std::to_string(names.size() - shown) + " more";
    return text;
}

// A step count read from a checkpoint: one whole number in [0, kExactSteps).
static int64_t read_step(const char* optimizer, const std::string& name, const Tensor& t) {
    check(t.numel() == 1, optimizer, ": load_state: '", name, "' must hold one number, got shape ", t.shape());
    const Scalar value = t.item();
    check(value >= 0 && value < static_cast<Scalar>(kExactSteps) && std::floor(value) == value, optimizer,
          ": load_state: '", name, "' must be a whole number of steps >= 0, got ", value);
    return static_cast<int64_t>(value);
}

void Optimizer::load_state(const NamedTensors& state) {
    // The given state, by name.
    std::map<std::string, Tensor> given;
    for (const auto& [state_name, t] : state) {
        check(t.defined(), name_, ": load_state: '", state_name, "' is an undefined tensor");
        check(given.emplace(state_name, t).second, name_, ": load_state: the state names '", state_name, "' twice");
    }
    // The names this optimizer expects, with the shape of each buffer.
    std::map<std::string, Shape> expected;
    expected.emplace("step", Shape{});
    for (const auto& [param_name, p] : params_) expected.emplace("step." + param_name, Shape{});
    for (const auto& [kind, buffers] : buffers_)
        for (const auto& [param_name, p] : params_) expected.emplace(kind + "." + param_name, p.shape());

    std::vector<std::string> unknown, missing;
    for (const auto& [state_name, t] : given)
        if (!expected.count(state_name)) unknown.push_back(state_name);
    for (const auto& [state_name, shape] : expected)
        if (!given.count(state_name)) missing.push_back(state_name);
    check(unknown.empty() && missing.empty(), name_, ": load_state: the state does not fit this optimizer: ",
          unknown.empty() ? "" : "unexpected " + some_names(unknown), unknown.empty() || missing.empty() ? "" : "; ",
          missing.empty() ? "" : "missing " + some_names(missing),
          " (was it saved by another kind of optimizer, or for another model?)");

    // Shapes and step counts, all checked before anything changes.
    for (const auto& [kind, buffers] : buffers_)
        for (const auto& [param_name, p] : params_) {
            const std::string state_name = kind + "." + param_name;
            const Tensor& t = given.at(state_name);
            check(t.shape() == p.shape(), name_, ": load_state: '", state_name, "' has shape ", t.shape(),
                  " but parameter '", param_name, "' has shape ", p.shape());
        }
    const int64_t step_count = read_step(name_, "step", given.at("step"));
    std::vector<int64_t> param_steps;
    for (const auto& [param_name, p] : params_) {
        const std::string state_name = "step." + param_name;
        param_steps.push_back(read_step(name_, state_name, given.at(state_name)));
        check(param_steps.back() <= step_count, name_, ": load_state: '", state_name, "' = ", param_steps.back(),
              " exceeds the optimizer's 'step' = ", step_count);
    }

    // Copy the numbers: the caller keeps its tensors, the optimizer its own.
    step_count_ = step_count;
    param_steps_ = param_steps;
    for (const auto& [kind, buffers] : buffers_)
        for (size_t i = 0; i < params_.size(); ++i) {
            const Tensor& source = given.at(kind + "." + params_[i].first);
            Tensor& target = (*buffers)[i];
            std::copy(source.data(), source.data() + source.numel(), target.data());
        }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
