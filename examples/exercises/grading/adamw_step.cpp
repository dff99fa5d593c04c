// Grades examples/exercises/adamw_step.cpp: AdamW's rule of which parameters decay, and its update.
#include <algorithm>
#include <stdexcept>

#include "examples/exercises/grading/exercises.h"
#include "optim/adam.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo adamw_step_info{
    18,
    "adamw_step",
    "AdamW, one step",
    "docs/optimizers.md, sections AdamW and Which parameters decay",
    "decay only tensors of 2+ dimensions not named *cls_token, *pos_embed* or *relative_position_bias_table; "
    "p -= lr wd p (if decay); m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; "
    "p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)",
    "you know which parameters weight decay is for, and can write AdamW's decoupled decay and bias-corrected "
    "moments exactly as torch.optim.AdamW does",
};

namespace {

// A parameter of a tiny ViT or Swin, under its timm name, and why it does or does not decay.
struct NamedParameter {
    const char* name;
    Shape shape;
    const char* why;
};

// Stage 1: the decay rule, against decays_by_default (optim/optimizer.cpp) on every parameter kind.
void grade_decay_rule(const AdamWDecays& learner_decays, Grader& grader) {
    const std::vector<NamedParameter> parameters = {
        {"patch_embed.proj.weight", {8, 3, 2, 2}, "a convolution's weight (4-D): a weight, it decays"},
        {"patch_embed.proj.bias", {8}, "a bias (1-D): an offset, no decay"},
        {"cls_token", {1, 1, 8}, "the class token: a learned input, no decay although it is 3-D"},
        {"pos_embed", {1, 5, 8}, "the position embedding: a learned input, no decay although it is 3-D"},
        {"blocks.0.norm1.weight", {8}, "a LayerNorm gain (1-D): its neutral value is 1, not 0; no decay"},
        {"blocks.0.norm1.bias", {8}, "a LayerNorm bias (1-D): no decay"},
        {"blocks.0.attn.qkv.weight", {24, 8}, "a Linear's weight (2-D): it decays"},
        {"blocks.0.attn.qkv.bias", {24}, "a Linear's bias (1-D): no decay"},
        {"blocks.0.attn.proj.weight", {8, 8}, "a Linear's weight (2-D): it decays"},
        {"blocks.0.mlp.fc1.weight", {32, 8}, "a Linear's weight (2-D): it decays"},
        {"blocks.0.mlp.fc2.bias", {8}, "a Linear's bias (1-D): no decay"},
        {"norm.weight", {8}, "the final LayerNorm's gain (1-D): no decay"},
        {"head.weight", {10, 8}, "the classifier's weight (2-D): it decays"},
        {"head.bias", {10}, "the classifier's bias (1-D): no decay"},
        {"absolute_pos_embed", {1, 16, 8}, "Swin's absolute position embedding: a learned input, no decay"},
        {"layers.0.blocks.1.attn.relative_position_bias_table", {9, 2},
         "Swin's relative position bias table (2-D): a learned input, no decay"},
        {"layers.0.blocks.1.attn.qkv.weight", {24, 8}, "a Linear's weight (2-D): it decays"},
        {"layers.0.downsample.reduction.weight", {16, 32}, "patch merging's Linear weight (2-D): it decays"},
        {"layers.0.downsample.norm.weight", {32}, "patch merging's LayerNorm gain (1-D): no decay"},
    };
    grader.begin_case("adamw_decays on the " + std::to_string(parameters.size()) +
                      " kinds of parameter of a tiny ViT and a tiny Swin");
    for (const NamedParameter& p : parameters) {
        const Tensor param = Tensor::zeros(p.shape);
        const bool expected = decays_by_default(p.name, param);
        const bool got = grader.call([&] { return learner_decays(p.name, param); });
        grader.expect_true(got == expected, std::string("adamw_decays(\"") + p.name + "\", a tensor of shape " +
                                                to_string(p.shape) + ") returned " + (got ? "true" : "false") +
                                                ", expected " + (expected ? "true" : "false") + ": " + p.why);
    }
}

// Stage 2: five steps of the learner's update against the library's AdamW on the same parameter and
// gradients, one case per step; both moments and the parameter compared after every step.
void grade_steps(const AdamWStep& learner_step, const NamedParameter& p, const AdamWSettings& s, Grader& grader) {
    const Tensor start = grader.random(p.shape);
    Tensor library_param = start.clone();
    library_param.requires_grad_();
    AdamW library({{p.name, library_param}}, s.lr, s.beta1, s.beta2, s.eps, s.weight_decay);
    const bool decay = library.decays(0);
    Tensor param = start.clone();
    Tensor exp_avg = Tensor::zeros(p.shape), exp_avg_sq = Tensor::zeros(p.shape);  // m and v start at 0
    for (int64_t t = 1; t <= 5; ++t) {
        grader.begin_case(format_message(p.name, " ", p.shape, decay ? ", decays" : ", no decay", "; lr ", s.lr,
                                         ", betas (", s.beta1, ", ", s.beta2, "), eps ", s.eps, ", weight_decay ",
                                         s.weight_decay, "; step ", t));
        const Tensor grad = grader.random(p.shape);
        library_param.zero_grad();
        std::copy_n(grad.data(), grad.numel(), library_param.grad_data());
        library.step();
        grader.call([&] { learner_step(param, grad, exp_avg, exp_avg_sq, t, s, decay); });
        const NamedTensors state = library.state();
        const auto state_of = [&state](const std::string& key) {
            for (const auto& [name, tensor] : state)
                if (name == key) return tensor;
            throw std::logic_error("adamw_step grader: the optimizer has no state " + key);
        };
        const std::string source = "torch.optim.AdamW's rule, as optim/adam.cpp computes it";
        grader.expect_close("exp_avg (m)", exp_avg, state_of("exp_avg." + std::string(p.name)), kSameMath, source);
        grader.expect_close("exp_avg_sq (v)", exp_avg_sq, state_of("exp_avg_sq." + std::string(p.name)), kSameMath,
                            source);
        grader.expect_close("param", param, library_param.detach(), kSameMath, source);
    }
}

}  // namespace

void grade_adamw_step(const AdamWDecays& learner_decays, const AdamWStep& learner_step, Grader& grader) {
    grade_decay_rule(learner_decays, grader);
    // PyTorch's betas and eps with a ViT recipe's lr and weight decay, then drawn settings with a large eps
    // (where eps goes shows) and strong decay. A decayed and an exempt parameter under each.
    const AdamWSettings usual{/*lr=*/1e-2, /*beta1=*/0.9, /*beta2=*/0.999, /*eps=*/1e-8, /*weight_decay=*/0.05};
    grade_steps(learner_step, {"blocks.0.mlp.fc1.weight", {4, 3}, ""}, usual, grader);
    grade_steps(learner_step, {"blocks.0.mlp.fc1.bias", {4}, ""}, usual, grader);
    const auto drawn = [&grader] {
        AdamWSettings s;
        s.lr = grader.random_int(10, 100) / 1000.0;           // 0.01 .. 0.1
        s.beta1 = grader.random_int(50, 95) / 100.0;          // 0.5 .. 0.95
        s.beta2 = grader.random_int(900, 990) / 1000.0;       // 0.9 .. 0.99
        s.eps = grader.random_int(1, 10) / 1000.0;            // 0.001 .. 0.01
        s.weight_decay = grader.random_int(10, 30) / 100.0;   // 0.1 .. 0.3
        return s;
    };
    grade_steps(learner_step, {"head.weight", {3, 5}, ""}, drawn(), grader);
    grade_steps(learner_step, {"cls_token", {1, 1, 4}, ""}, drawn(), grader);
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
