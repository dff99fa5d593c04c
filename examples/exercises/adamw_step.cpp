// Exercise: AdamW, one step.                                     make exercise NAME=adamw_step
//
// Two functions. First the rule of which parameters get weight decay (optim/optimizer.cpp,
// decays_by_default): weight matrices and convolution kernels do; biases, LayerNorm weights (anything of
// one dimension or none), the class token, position embeddings and Swin's relative position bias table
// do not. Names are timm's: "blocks.0.attn.qkv.weight", "cls_token", "pos_embed", "absolute_pos_embed",
// "layers.0.blocks.1.attn.relative_position_bias_table", ...
//
// Then one AdamW update of one parameter p with gradient g, at its t-th step (t = 1, 2, ...), with
// lr = gamma, betas (b1, b2), eps, weight_decay = lambda; m and v start at zero (optim/adam.h):
//     p <- p - gamma lambda p                       only if decay: decoupled, before the Adam step
//     m <- b1 m + (1 - b1) g                        exp_avg
//     v <- b2 v + (1 - b2) g^2                      exp_avg_sq
//     m_hat = m / (1 - b1^t)      v_hat = v / (1 - b2^t)
//     p <- p - gamma m_hat / (sqrt(v_hat) + eps)
// Your job: adamw_decays says whether a parameter decays; adamw_step updates p, m and v in place.
//
// Hints, in the order you may want them:
//   1. adamw_decays: look at param.dim() first, then at the name (std::string's find, or compare the
//      end of the name). docs/optimizers.md, "Which parameters decay", says why each is exempt.
//   2. adamw_step: a loop over the elements of param.data(), exp_avg.data() and exp_avg_sq.data(),
//      writing into them; std::pow(b1, t) for b1^t. The decay uses p before this step's Adam update.
//   3. Why 1 - b1^t: m and v start at 0, so early on they are too small by exactly that factor
//      (docs/optimizers.md, "Bias correction, derived").
//
//   adamw_decays: name  param (any shape)  ->  true if weight decay applies
//   adamw_step:   param, grad, exp_avg, exp_avg_sq (one shape)  step t >= 1  settings  decay  ->  (in place)
#include "examples/exercises/exercise.h"

namespace learner {

bool adamw_decays(const std::string& name, const Tensor& param) {
    // Your code here: return whether weight decay applies to this parameter.
    not_implemented("adamw_decays");
}

void adamw_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, int64_t step,
                const AdamWSettings& settings, bool decay) {
    // Your code here: update param, exp_avg and exp_avg_sq.
    not_implemented("adamw_step");
}

}  // namespace learner

// The grader (examples/exercises/grading/adamw_step.cpp) calls both functions: the rule on the parameters
// of a tiny ViT and Swin, then five steps of your update against the library's AdamW.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, adamw_step_info, [](Grader& grader) {
        grade_adamw_step(learner::adamw_decays, learner::adamw_step, grader);
    });
}
