#pragma once
// ExponentialMovingAverage: a running average of a model's weights over the steps of training, kept beside
// the model and swapped in to evaluate (Polyak averaging; TensorFlow's tf.train.ExponentialMovingAverage,
// timm's ModelEmaV2). docs/optimizers.md, "Weight averaging (EMA)", tells why it helps.
//
//     AdamW optimizer(model.named_parameters(), 1e-3);
//     ExponentialMovingAverage ema(model.named_parameters(), 0.999);
//     for (int64_t step = 0; step < steps; ++step) {
//         ...                                                  // forward, backward
//         optimizer.step();
//         ema.update(optimizer.step_count());                  // after every optimizer step: 1, 2, 3, ...
//     }
//     {
//         AveragedWeightsGuard averaged(ema);                  // the model now holds the averages
//         ...                                                  // evaluate, save
//     }                                                        // and its own weights again
//
// For each parameter p and its average a (a copy of p when the EMA is made), update(t) does
//
//     d = min(decay, (1 + t) / (10 + t))       the decay, warmed up (TensorFlow's num_updates)
//     a <- d * a + (1 - d) * p
//
// Without the warm-up, a = decay^t * p_0 + (1 - decay) * (decay^(t-1) p_1 + ... + p_t) still holds the
// random initial weights p_0 with weight decay^t: 0.9999^1000 = 0.90 after 1000 steps. With it, the early
// averages forget p_0 at once (its weight after t updates is (2/11) (3/12) ... ((1+t)/(10+t)), 6e-5 after
// 10 updates) and average over a window of about 1/(1 - d) = (10 + t)/9 recent steps, which widens as
// training goes on until it reaches 1/(1 - decay).
//
// Only parameters are averaged: a model's buffers here are constants (Swin's relative_position_index,
// the fixed sin-cos position tables). Every update and swap is elementwise, so the numbers never depend on
// the number of threads.
#include <cstdint>

#include "optim/optimizer.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class ExponentialMovingAverage {
public:
    // params: (name, tensor) pairs, e.g. Module::named_parameters(): names unique, tensors distinct leaves,
    // the model's own handles (swap_with_model writes into them). decay in [0, 1), e.g. 0.999 or 0.9999: a
    // double, because what matters is its distance from 1, of which a float keeps few digits.
    ExponentialMovingAverage(NamedTensors params, double decay);
    ExponentialMovingAverage(const ExponentialMovingAverage&) = delete;  // a copy would swap a second time
    ExponentialMovingAverage& operator=(const ExponentialMovingAverage&) = delete;

    // Folds the parameters' current values into the averages, once per optimizer step, after it. step: the
    // optimizer steps taken so far, this one included (Optimizer::step_count()), >= 0. Refused while the
    // averages are swapped in (the model would be averaged with itself).
    void update(int64_t step);
    // The decay update(step) uses: min(decay, (1 + step) / (10 + step)); 0.1 at step 0, 2/11 at step 1.
    double decay_at(int64_t step) const;
    double decay() const { return decay_; }

    // Exchanges, number by number, the averages and the model's parameters, in place: afterwards the model
    // holds the averages and this object the model's training weights. Calling it again swaps them back.
    void swap_with_model();
    bool swapped() const { return swapped_; }  // does the model hold the averages now?

    const NamedTensors& named_parameters() const { return params_; }  // the model's, as given

    // ---- checkpoints ----------------------------------------------------------------------------------
    // Copies of the averages (also while swapped in), one per parameter, of its shape:
    //   "ema.<param>"      e.g. "ema.blocks.0.attn.qkv.weight"
    // The decay is not state: it comes from the configuration, and the step from the optimizer's state.
    NamedTensors state() const;
    // Restores a state() of an EMA over parameters of the same names and shapes, copying the numbers. Checks
    // everything before it changes anything: unknown or missing names, shapes. Refused while swapped in.
    void load_state(const NamedTensors& state);

private:
    NamedTensors params_;           // the model's parameters (shared handles)
    std::vector<Tensor> averages_;  // one per parameter, its shape; the model's weights while swapped
    double decay_;
    bool swapped_ = false;
};

// While an AveragedWeightsGuard lives, the model holds the averaged weights: it swaps them in when it is
// made and back when it goes out of scope, also when an exception leaves the scope.
//
//     { AveragedWeightsGuard averaged(ema); accuracy = evaluate(model); }
class AveragedWeightsGuard {
public:
    explicit AveragedWeightsGuard(ExponentialMovingAverage& average);  // refused if already swapped in
    ~AveragedWeightsGuard();
    AveragedWeightsGuard(const AveragedWeightsGuard&) = delete;
    AveragedWeightsGuard& operator=(const AveragedWeightsGuard&) = delete;

private:
    ExponentialMovingAverage& average_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
