#pragma once
// Optimizer: the base of SGD, Adam and AdamW (torch.optim.Optimizer). docs/optimizers.md tells the story.
//
//     Adam optimizer(model.named_parameters(), 1e-3);          // or SGD, AdamW
//     for (int64_t step = 0; step < steps; ++step) {
//         optimizer.set_lr(warmup_cosine_lr(step, warmup, steps, base_lr, min_lr));   // optim/schedule.h
//         optimizer.zero_grad();
//         Tensor loss = ...;                                     // forward
//         loss.backward();
//         clip_grad_norm(model.parameters(), 1.0);                 // optim/clip.h (optional)
//         optimizer.step();                                      // updates every parameter in place
//     }
//
// An optimizer holds the parameters (Tensor handles shared with the model, so an in-place update is seen
// by the model) under their state_dict names, one learning rate, and per-parameter state: each parameter's
// own step count plus the buffers of the method (SGD's momentum_buffer, Adam's exp_avg and exp_avg_sq),
// all of the parameter's shape. state() and load_state() carry all of it through a checkpoint, so a resumed
// run continues bit for bit as if it had never stopped.
//
// Weight decay and the decay rule: a parameter decays (weight_decay applies to it) when the decay rule says
// so. The default rule, decays_by_default, exempts biases, norm weights and position/class embeddings, as
// timm and most Vision Transformer recipes do (docs/optimizers.md, "Which parameters decay"). PyTorch
// expresses the same thing with two parameter groups; here it is one predicate.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Should weight decay apply to the parameter `name` of this shape? true: decay.
using DecayRule = std::function<bool(const std::string& name, const Tensor& parameter)>;

// The default rule: no decay for tensors of one dimension or none (biases, LayerNorm weight and bias), for
// names ending in "cls_token" or "relative_position_bias_table", and for names containing "pos_embed"
// (ViT's pos_embed, Swin's absolute_pos_embed). Every other parameter (the weight matrices) decays.
//   "blocks.0.attn.qkv.weight" (3C, C) -> true      "blocks.0.attn.qkv.bias" (3C) -> false
//   "blocks.0.norm1.weight" (C) -> false            "cls_token" (1, 1, C) -> false
//   "pos_embed" (1, T, C) -> false                  "layers.0.blocks.1.attn.relative_position_bias_table" -> false
bool decays_by_default(const std::string& name, const Tensor& parameter);

class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;  // the state registry points into the optimizer itself
    Optimizer& operator=(const Optimizer&) = delete;

    // One update of every parameter whose grad is defined (parameters without a grad are skipped, as in
    // PyTorch: they neither move nor count a step). Runs under NoGradGuard, in place on the parameters.
    virtual void step() = 0;
    // Drops every parameter's grad (PyTorch's zero_grad(set_to_none=True)).
    void zero_grad();

    Scalar lr() const { return lr_; }
    void set_lr(Scalar lr);          // lr >= 0; a schedule calls this before each step
    int64_t step_count() const { return step_count_; }  // calls of step() so far
    const char* name() const { return name_; }          // "SGD", "Adam", "AdamW"

    const NamedTensors& named_parameters() const { return params_; }
    // Does parameter i decay? (the decay rule, applied once in the constructor)
    bool decays(size_t i) const { return decays_[i]; }
    // The names of the parameters that decay, in order: for the command line to print.
    std::vector<std::string> decayed_names() const;

    // ---- checkpoints ----------------------------------------------------------------------------------
    // Copies of the whole state, under these names:
    //   "step"                 ()            step_count()
    //   "step.<param>"         ()            how many updates that parameter received (PyTorch's state['step'])
    //   "<buffer>.<param>"     param.shape   e.g. "exp_avg.blocks.0.attn.qkv.weight", "momentum_buffer.fc.bias"
    // Step counts are stored as Scalar: exact up to 2^24 = 16,777,216 steps in float32 (state() checks).
    // The learning rate and the hyper-parameters are not state: they come from the configuration and the
    // schedule, as a resumed run recomputes them.
    NamedTensors state() const;
    // Restores a state() of an optimizer of the same kind over parameters of the same names and shapes,
    // copying the numbers (the optimizer never shares the caller's tensors). Checks everything before it
    // changes anything: unknown or missing names, shapes, step counts that are not whole numbers.
    void load_state(const NamedTensors& state);

protected:
    // params: (name, tensor) pairs, e.g. Module::named_parameters(); names unique, tensors distinct leaves.
    Optimizer(const char* name, NamedTensors params, Scalar lr, const DecayRule& decay_rule);
    // Declares a per-parameter buffer saved as "<kind>.<param name>": `buffers` is a member of the derived
    // class, filled here with one zero tensor per parameter, of that parameter's shape.
    void register_state(const std::string& kind, std::vector<Tensor>& buffers);
    // Every step() starts with this: one more call counted.
    void begin_step() { ++step_count_; }
    // Counts an update of parameter i and returns its new step count t = 1, 2, ...
    int64_t count_param_step(size_t i) { return ++param_steps_[i]; }

    const char* name_;
    NamedTensors params_;
    std::vector<bool> decays_;

private:
    Scalar lr_ = 0;
    int64_t step_count_ = 0;
    std::vector<int64_t> param_steps_;                                   // one per parameter
    std::vector<std::pair<std::string, std::vector<Tensor>*>> buffers_;  // (kind, one tensor per parameter)
};

// Checks shared by the optimizers' constructors: `value` must lie in its range, else an error naming the
// optimizer, the hyper-parameter and the value, e.g. "Adam: beta1 must be in [0, 1), got 1".
void check_non_negative(const char* optimizer, const char* what, Scalar value);
void check_unit_interval(const char* optimizer, const char* what, Scalar value);  // [0, 1)

// "'a', 'b', 'c' and 2 more": the first few names of a list, for an error message.
std::string some_names(const std::vector<std::string>& names);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
