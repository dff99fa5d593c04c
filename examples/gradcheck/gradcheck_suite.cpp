// The gradient-check catalogue (examples/gradcheck/gradcheck_suite.h): every check as a name, a one-line description, and
// a function that builds, from an Rng seeded by the caller, the function to check and its inputs.
//
// Sizes are tiny on purpose: a check costs two forward passes per input element, and the whole catalogue
// runs inside `make test`. Operands mostly have distinct sizes (so a forgotten transpose cannot go
// unnoticed), broadcasting stretches both missing and size-1 dimensions, and inputs stay away from kinks
// (relu at 0, log and sqrt near 0). Inputs are drawn one statement or one declaration at a time, never
// as two arguments of one call, whose order of evaluation C++ leaves open: the same seed gives the same
// numbers with every compiler.
#include "examples/gradcheck/gradcheck_suite.h"

#include <functional>
#include <memory>
#include <utility>

#include "core/ops.h"
#include "nn/attention.h"
#include "nn/embedding.h"
#include "nn/mlp.h"
#include "nn/swin.h"
#include "nn/vit.h"
#include "nn/window.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// What one check needs: the function, its inputs (those that require grad are checked), and their names.
struct Problem {
    Problem(TensorFunction f_in, std::vector<Tensor> inputs_in, std::vector<std::string> names_in)
        : f(std::move(f_in)), inputs(std::move(inputs_in)), names(std::move(names_in)) {}
    TensorFunction f;
    std::vector<Tensor> inputs;
    std::vector<std::string> names;  // one per input that requires grad, in order
    std::string inputs_text;         // the table's inputs column, when listing every input would be too long
    Module* module = nullptr;        // a layer's or model's check: the module (kept alive by f), for its kernels
};

struct Check {
    const char* name;
    const char* description;
    std::function<Problem(Rng& rng)> make;
};

// Uniform in [low, high), requiring grad.
Tensor leaf(const Shape& shape, Rng& rng, double low = -1, double high = 1) {
    Tensor t = Tensor::uniform(shape, static_cast<Scalar>(low), static_cast<Scalar>(high), rng);
    t.requires_grad_(true);
    return t;
}

// A random sign times a magnitude in [0.2, 1): nowhere near relu's kink at 0.
Tensor leaf_away_from_zero(const Shape& shape, Rng& rng) {
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) {
        const double magnitude = rng.uniform(0.2, 1.0);
        t.data()[i] = static_cast<Scalar>(rng.uniform() < 0.5 ? -magnitude : magnitude);
    }
    t.requires_grad_(true);
    return t;
}

// A constant of whole numbers (targets, indices, masks): no gradient.
Tensor constant(const std::vector<Scalar>& values, const Shape& shape) { return Tensor::from_vector(values, shape); }

using Unary = std::function<Tensor(const Tensor&)>;
using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;

Problem unary(const Tensor& x, Unary op) {
    return {[op](const std::vector<Tensor>& in) { return op(in[0]); }, {x}, {"x"}};
}

Problem binary(const Tensor& a, const Tensor& b, Binary op) {
    return {[op](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {a, b}, {"a", "b"}};
}

// A layer's (or model's) check: its input and every parameter. Parameters are moved off their init by
// normal(0, 0.1^2), so no gradient is trivially zero (zero biases) and LayerNorm's weight is not exactly 1.
// `forward` captures the module's shared_ptr, which keeps the module alive as long as the function.
// Every layer here has dropout 0, so the Rng a forward takes (`unused` below) never draws.
Problem layer(Module& module, const std::string& input_name, const Tensor& x, Rng& rng, Unary forward) {
    Problem problem{[forward](const std::vector<Tensor>& in) { return forward(in[0]); }, {x}, {input_name}};
    problem.module = &module;
    for (auto& [name, parameter] : module.named_parameters()) {
        Tensor p = parameter;
        for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] += static_cast<Scalar>(0.1 * rng.normal());
        problem.inputs.push_back(p);  // the module's own tensor: gradcheck perturbs it in place
        problem.names.push_back(name);
    }
    problem.inputs_text =
        input_name + " " + to_string(x.shape()) + " + " + std::to_string(problem.inputs.size() - 1) + " parameters";
    return problem;
}

// ---- the catalogue ------------------------------------------------------------------------------------------

std::vector<Check> catalogue() {
    std::vector<Check> checks = {
        // elementwise (core/ops/elementwise.cpp)
        {"add_broadcast", "a (2, 3, 4) + b (3, 1): b broadcast over the batch and the last dim",
         [](Rng& rng) {
             Tensor a = leaf({2, 3, 4}, rng), b = leaf({3, 1}, rng);
             return binary(a, b, [](const Tensor& x, const Tensor& y) { return x + y; });
         }},
        {"sub", "a (2, 3) - b (3): b broadcast over rows",
         [](Rng& rng) {
             Tensor a = leaf({2, 3}, rng), b = leaf({3}, rng);
             return binary(a, b, [](const Tensor& x, const Tensor& y) { return x - y; });
         }},
        {"mul", "a (2, 3, 4) * b (4): the product rule with broadcasting",
         [](Rng& rng) {
             Tensor a = leaf({2, 3, 4}, rng), b = leaf({4}, rng);
             return binary(a, b, [](const Tensor& x, const Tensor& y) { return x * y; });
         }},
        {"div", "a (2, 3) / b (2, 1), b in [0.5, 1.5): the quotient rule with broadcasting",
         [](Rng& rng) {
             Tensor a = leaf({2, 3}, rng), b = leaf({2, 1}, rng, 0.5, 1.5);
             return binary(a, b, [](const Tensor& x, const Tensor& y) { return x / y; });
         }},
        {"pow", "x^2.5 of x (2, 3) in [0.5, 1.5)",
         [](Rng& rng) {
             return unary(leaf({2, 3}, rng, 0.5, 1.5), [](const Tensor& x) { return pow(x, 2.5); });
         }},
        {"exp", "e^x of x (2, 3)",
         [](Rng& rng) {
             return unary(leaf({2, 3}, rng), [](const Tensor& x) { return exp(x); });
         }},
        {"log", "log x of x (2, 3) in [0.5, 2)",
         [](Rng& rng) {
             return unary(leaf({2, 3}, rng, 0.5, 2), [](const Tensor& x) { return log(x); });
         }},
        {"sqrt", "sqrt x of x (2, 3) in [0.5, 2)",
         [](Rng& rng) {
             return unary(leaf({2, 3}, rng, 0.5, 2), [](const Tensor& x) { return sqrt(x); });
         }},
        {"erf", "the error function of x (2, 3)",
         [](Rng& rng) {
             return unary(leaf({2, 3}, rng), [](const Tensor& x) { return erf(x); });
         }},
        {"masked_fill", "x (2, 3) with the columns where mask (3) = 1 set to -5: no gradient there",
         [](Rng& rng) {
             const Tensor mask = constant({0, 1, 0}, {3});
             return unary(leaf({2, 3}, rng), [mask](const Tensor& x) { return masked_fill(x, mask, -5); });
         }},
        {"where", "where(condition (2, 3), a (2, 3), b (3)): gradient to a or b, element by element",
         [](Rng& rng) {
             const Tensor condition = constant({1, 0, 0, 1, 1, 0}, {2, 3});
             Tensor a = leaf({2, 3}, rng), b = leaf({3}, rng);
             return binary(a, b, [condition](const Tensor& x, const Tensor& y) { return where(condition, x, y); });
         }},
        // activations (core/ops/activation.cpp)
        {"relu", "max(x, 0) of x (2, 3), |x| >= 0.2 (away from the kink)",
         [](Rng& rng) {
             return unary(leaf_away_from_zero({2, 3}, rng), [](const Tensor& x) { return relu(x); });
         }},
        {"sigmoid", "1 / (1 + e^-x) of x (2, 3)",
         [](Rng& rng) {
             return unary(leaf({2, 3}, rng), [](const Tensor& x) { return sigmoid(x); });
         }},
        {"tanh", "tanh x of x (2, 3)",
         [](Rng& rng) {
             return unary(leaf({2, 3}, rng), [](const Tensor& x) { return tanh(x); });
         }},
        {"gelu", "x Phi(x), the exact erf form, of x (3, 4) in [-3, 3)",
         [](Rng& rng) {
             return unary(leaf({3, 4}, rng, -3, 3), [](const Tensor& x) { return gelu(x); });
         }},
        // reductions (core/ops/reduce.cpp)
        {"sum", "sum over dim 1 of x (2, 3, 4) -> (2, 4)",
         [](Rng& rng) {
             return unary(leaf({2, 3, 4}, rng), [](const Tensor& x) { return sum(x, 1); });
         }},
        {"mean", "mean over dim -1 of x (2, 3, 4), keepdim -> (2, 3, 1)",
         [](Rng& rng) {
             return unary(leaf({2, 3, 4}, rng), [](const Tensor& x) { return mean(x, -1, true); });
         }},
        {"max", "max over dim 1 of x (3, 4) -> (3): gradient to the maximum only",
         [](Rng& rng) {
             return unary(leaf({3, 4}, rng), [](const Tensor& x) { return max(x, 1); });
         }},
        // movement (core/ops/movement.cpp)
        {"permute", "x (2, 3, 4) permuted by (2, 0, 1) -> (4, 2, 3)",
         [](Rng& rng) {
             return unary(leaf({2, 3, 4}, rng), [](const Tensor& x) { return permute(x, {2, 0, 1}); });
         }},
        {"transpose", "x (2, 3, 4) with dims -1 and 0 swapped -> (4, 3, 2)",
         [](Rng& rng) {
             return unary(leaf({2, 3, 4}, rng), [](const Tensor& x) { return transpose(x, -1, 0); });
         }},
        {"slice", "columns 1, 3 of x (4, 5): slice(dim 1, start 1, end 5, step 2)",
         [](Rng& rng) {
             return unary(leaf({4, 5}, rng), [](const Tensor& x) { return slice(x, 1, 1, 5, 2); });
         }},
        {"concat", "a (2, 3) and b (2, 2) side by side along dim -1 -> (2, 5)",
         [](Rng& rng) {
             Tensor a = leaf({2, 3}, rng), b = leaf({2, 2}, rng);
             return binary(a, b, [](const Tensor& x, const Tensor& y) { return concat({x, y}, -1); });
         }},
        {"stack", "a (2, 3) and b (2, 3) stacked along a new dim 1 -> (2, 2, 3)",
         [](Rng& rng) {
             Tensor a = leaf({2, 3}, rng), b = leaf({2, 3}, rng);
             return binary(a, b, [](const Tensor& x, const Tensor& y) { return stack({x, y}, 1); });
         }},
        {"index_select", "rows 2, 0, 2 of x (3, 4): a repeated row accumulates its gradient",
         [](Rng& rng) {
             return unary(leaf({3, 4}, rng), [](const Tensor& x) { return index_select(x, 0, {2, 0, 2}); });
         }},
        {"gather", "out[i][j] = x[i][index[i][j]] of x (3, 4), index (3, 2) with a repeat",
         [](Rng& rng) {
             const Tensor index = constant({3, 0, 1, 1, 2, 3}, {3, 2});
             return unary(leaf({3, 4}, rng), [index](const Tensor& x) { return gather(x, 1, index); });
         }},
        {"expand", "x (3, 1) broadcast to (2, 3, 4): the backward sums the copies",
         [](Rng& rng) {
             return unary(leaf({3, 1}, rng), [](const Tensor& x) { return expand(x, {2, 3, 4}); });
         }},
        {"roll", "x (3, 4) rolled by (1, -2) over dims (0, 1): Swin's cyclic shift",
         [](Rng& rng) {
             return unary(leaf({3, 4}, rng), [](const Tensor& x) { return roll(x, {1, -2}, {0, 1}); });
         }},
        {"shifted_copies", "images (2, 3, 4, 4) and four copies shifted diagonally by 2: shifted patch tokens",
         [](Rng& rng) {
             return unary(leaf({2, 3, 4, 4}, rng), [](const Tensor& x) { return shifted_copies(x, 2); });
         }},
        {"unfold", "images (2, 3, 4, 5) -> (2, 6, 27): every 3x3 window, stride 2, padding 1 (im2col)",
         [](Rng& rng) {
             return unary(leaf({2, 3, 4, 5}, rng), [](const Tensor& x) { return unfold(x, 3, 2, 1); });
         }},
        {"unfold_channels_last", "images (2, 4, 5, 3) -> (2, 6, 27): unfold with channels last, (u, v, c) order",
         [](Rng& rng) {
             return unary(leaf({2, 4, 5, 3}, rng), [](const Tensor& x) { return unfold_channels_last(x, 3, 2, 1); });
         }},
        // matrix products (core/ops/matmul.cpp)
        {"matmul", "a (2, 3, 4) @ b (4, 5) -> (2, 3, 5): b broadcast over the batch",
         [](Rng& rng) {
             Tensor a = leaf({2, 3, 4}, rng), b = leaf({4, 5}, rng);
             return binary(a, b, [](const Tensor& x, const Tensor& y) { return matmul(x, y); });
         }},
        {"linear", "the fused linear op: x (2, 3, 4) @ weight (5, 4)^T + bias (5)",
         [](Rng& rng) {
             Tensor x = leaf({2, 3, 4}, rng), weight = leaf({5, 4}, rng), bias = leaf({5}, rng);
             return Problem{[](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                            {x, weight, bias},
                            {"x", "weight", "bias"}};
         }},
        // softmax and the loss (core/ops/softmax.cpp)
        {"softmax", "softmax along dim 1 (not the last) of x (2, 3, 4)",
         [](Rng& rng) {
             return unary(leaf({2, 3, 4}, rng, -2, 2), [](const Tensor& x) { return softmax(x, 1); });
         }},
        {"log_softmax", "log_softmax along dim -1 of x (3, 5)",
         [](Rng& rng) {
             return unary(leaf({3, 5}, rng, -2, 2), [](const Tensor& x) { return log_softmax(x, -1); });
         }},
        {"cross_entropy", "the fused loss of logits (4, 5), targets (4), label smoothing 0.1 -> ()",
         [](Rng& rng) {
             const Tensor targets = constant({1, 0, 4, 2}, {4});
             Problem problem =
                 unary(leaf({4, 5}, rng, -2, 2), [targets](const Tensor& x) { return cross_entropy(x, targets, 0.1); });
             problem.names = {"logits"};
             return problem;
         }},
        // normalisation (core/ops/layer_norm.cpp)
        {"layer_norm", "the fused layer_norm op over the last dim of x (2, 3, 5), weight (5), bias (5)",
         [](Rng& rng) {
             Tensor x = leaf({2, 3, 5}, rng, -2, 2), weight = leaf({5}, rng, 0.5, 1.5), bias = leaf({5}, rng);
             return Problem{[](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); },
                            {x, weight, bias},
                            {"x", "weight", "bias"}};
         }},
        // attention (core/ops/attention.cpp)
        {"attention", "the fused op: softmax(q k^T / 2 + bias) v, q, k, v (2, 2, 3, 4), bias (2, 3, 3)",
         [](Rng& rng) {
             Tensor q = leaf({2, 2, 3, 4}, rng), k = leaf({2, 2, 3, 4}, rng), v = leaf({2, 2, 3, 4}, rng);
             Tensor bias = leaf({2, 3, 3}, rng);  // broadcast over the batch, like Swin's relative position bias
             return Problem{[](const std::vector<Tensor>& in) {
                                return scaled_dot_product_attention(in[0], in[1], in[2], in[3], 0.5);
                            },
                            {q, k, v, bias},
                            {"q", "k", "v", "bias"}};
         }},
        // regularisation (core/ops/drop_path.cpp)
        {"drop_path", "x (4, 2, 3), rate 0.5, training, mask from Rng(2): samples 0 and 2 dropped, 1 and 3 times 2",
         [](Rng& rng) {
             return unary(leaf({4, 2, 3}, rng), [](const Tensor& x) {
                 Rng mask(2);  // the same mask on every call: draws 0.10, 0.73, 0.18, 0.75 against rate 0.5
                 return drop_path(x, 0.5, /*training=*/true, mask);
             });
         }},
        // layers (nn/)
        {"multi_head_attention", "MultiHeadSelfAttention (C 4, 2 heads) of x (2, 3, 4), and its 4 parameters",
         [](Rng& rng) {
             auto attn = std::make_shared<MultiHeadSelfAttention>(4, 2, rng);
             return layer(*attn, "x", leaf({2, 3, 4}, rng), rng, [attn](const Tensor& x) {
                 Rng unused(0);
                 return attn->forward(x, unused);
             });
         }},
        {"mlp", "Mlp (C 4, hidden 8: fc1, gelu, fc2) of x (2, 3, 4), and its 4 parameters",
         [](Rng& rng) {
             auto mlp = std::make_shared<Mlp>(4, 8, rng);
             return layer(*mlp, "x", leaf({2, 3, 4}, rng), rng, [mlp](const Tensor& x) {
                 Rng unused(0);
                 return mlp->forward(x, unused);
             });
         }},
        {"patch_embed", "PatchEmbedding (2 channels, 2x2 patches, D 3) of images (2, 2, 4, 4) -> (2, 4, 3)",
         [](Rng& rng) {
             auto embed = std::make_shared<PatchEmbedding>(2, 2, 3, 4, rng);
             return layer(*embed, "images", leaf({2, 2, 4, 4}, rng), rng,
                          [embed](const Tensor& x) { return embed->forward(x); });
         }},
        {"conv_stem", "the ViT's conv stem (2 channels, P 4, D 6) of images (2, 2, 8, 8) -> (2, 4, 6): 3x3 convs, "
                      "stride 2, LayerNorm and GELU between",
         [](Rng& rng) {
             auto stem = std::make_shared<PatchEmbedding>(2, 4, 6, 8, rng, Stem::conv);
             return layer(*stem, "images", leaf({2, 2, 8, 8}, rng), rng,
                          [stem](const Tensor& x) { return stem->forward(x); });
         }},
        {"position_embedding", "learned 2D PositionEmbedding (2x3 grid, D 4, CLS) of x (2, 7, 4): row + col",
         [](Rng& rng) {
             auto position = std::make_shared<PositionEmbedding>(PositionEmbeddingKind::learned_2d, 2, 3, 4, true, rng);
             return layer(*position, "x", leaf({2, 7, 4}, rng), rng,
                          [position](const Tensor& x) { return position->forward(x); });
         }},
        {"window_attention",
         "WindowAttention (C 4, 2 heads, 2x2 windows) of the 4 windows (4, 4, 4) of a 4x4 grid, shift-1 mask",
         [](Rng& rng) {
             auto attn = std::make_shared<WindowAttention>(4, 2, 2, rng, 0.0);
             const Tensor mask = shifted_window_mask(4, 4, 2, 1);  // (nW 4, N 4, N 4): 0 or -100
             return layer(*attn, "windows", leaf({4, 4, 4}, rng), rng, [attn, mask](const Tensor& x) {
                 Rng unused(0);
                 return attn->forward(x, unused, mask);
             });
         }},
        {"patch_merging", "PatchMerging of x (2, 16, 3) on a 4x4 grid -> (2, 4, 6): gather, LayerNorm, Linear",
         [](Rng& rng) {
             auto merging = std::make_shared<PatchMerging>(3, 4, 4, 1e-5, rng);
             return layer(*merging, "x", leaf({2, 16, 3}, rng), rng,
                          [merging](const Tensor& x) { return merging->forward(x); });
         }},
        {"swin_block", "SwinBlock (C 4, 2 heads, 2x2 windows shifted by 1) of x (1, 16, 4) on a 4x4 grid",
         [](Rng& rng) {
             auto block = std::make_shared<SwinBlock>(4, 2, 4, 4, 2, 1, 2.0, 1e-5, 0.0, rng);
             return layer(*block, "x", leaf({1, 16, 4}, rng), rng, [block](const Tensor& x) {
                 Rng unused(0);
                 return block->forward(x, unused);
             });
         }},
        // whole models (nn/vit.cpp, nn/swin.cpp): the logits, from the images and every parameter
        {"vit", "a tiny ViT (4x4 images, 2x2 patches, D 4, 1 block, 2 heads, CLS) of images (2, 2, 4, 4)",
         [](Rng& rng) {
             ViTConfig config;
             config.image_size = 4, config.in_channels = 2, config.patch_size = 2, config.dim = 4;
             config.depth = 1, config.heads = 2, config.mlp_dim = 8, config.num_classes = 3;
             auto vit = std::make_shared<VisionTransformer>(config, rng);
             vit->eval();
             return layer(*vit, "images", leaf({2, 2, 4, 4}, rng), rng, [vit](const Tensor& x) {
                 Rng unused(0);
                 return vit->forward(x, unused);
             });
         }},
        {"swin", "a tiny Swin (4x4 grid, 2x2 windows, the second block shifted by 1, merged to 2x2) of (2, 1, 4, 4)",
         [](Rng& rng) {
             SwinConfig config;  // stage 0: a 4x4 grid of 2x2 windows, W-MSA then SW-MSA with the mask;
                                 // stage 1: the merged 2x2 grid is one window, so no shift
             config.image_size = 4, config.in_channels = 1, config.patch_size = 1, config.embed_dim = 4;
             config.depths = {2, 1}, config.heads = {2, 2}, config.window_size = 2, config.num_classes = 3;
             auto swin = std::make_shared<SwinTransformer>(config, rng);
             swin->eval();
             return layer(*swin, "images", leaf({2, 1, 4, 4}, rng), rng, [swin](const Tensor& x) {
                 Rng unused(0);
                 return swin->forward(x, unused);
             });
         }},
    };
    return checks;
}

std::string known_names(const std::vector<Check>& checks) {
    std::string text;
    for (const Check& c : checks) text += (text.empty() ? "" : ", ") + std::string(c.name);
    return text;
}

}  // namespace

std::vector<GradcheckSuiteEntry> gradcheck_suite_entries() {
    std::vector<GradcheckSuiteEntry> entries;
    for (const Check& c : catalogue()) entries.push_back({c.name, c.description});
    return entries;
}

// float64: PyTorch's gradcheck defaults. float32: the rounding error of a difference quotient is about
// u |L| / eps with u = 6e-8, the truncation error about eps^2 |L'''|; they balance near eps = u^(1/3) ~ 4e-3,
// and in practice the quotient is still off by up to 1e-3 (docs/gradcheck.md). The tolerances stay those
// of float64: the table then shows how far float32 falls short of them.
GradcheckSuiteSettings gradcheck_suite_settings() {
    const GradcheckOptions options = gradcheck_suite_options(0);
    return {scalar_name(), options.eps, options.atol, options.rtol};
}

GradcheckOptions gradcheck_suite_options(uint64_t seed) {
    GradcheckOptions options;
    options.eps = sizeof(Scalar) == 8 ? 1e-6 : 1e-3;
    options.seed = seed;
    return options;
}

GradcheckSuiteRow gradcheck_row(const std::string& name, const GradcheckReport& report,
                                const std::vector<std::string>& input_names) {
    GradcheckSuiteRow row;
    row.name = name;
    row.passed = report.passed;
    if (!report.passed) row.failure = report.message();
    for (size_t k = 0; k < report.inputs.size(); ++k) {
        const GradcheckInput& in = report.inputs[k];
        GradcheckSuiteInput input;
        input.name = k < input_names.size() ? input_names[k] : "input " + std::to_string(in.index);
        input.shape = to_string(in.shape);
        input.checked = in.checked;
        input.max_abs_error = in.max_abs_error;
        input.max_rel_error = in.max_rel_error;
        input.passed = in.passed;
        input.analytic = in.analytic;
        input.numeric = in.numeric;
        row.checked += in.checked;
        row.max_abs_error = std::max(row.max_abs_error, in.max_abs_error);
        row.max_rel_error = std::max(row.max_rel_error, in.max_rel_error);
        row.inputs_detail.push_back(std::move(input));
    }
    // The inputs column: "x (2, 3, 4), weight (5, 4), bias (5,)"; neighbours of one shape share it:
    // "q, k, v (2, 2, 3, 4)".
    const std::vector<GradcheckSuiteInput>& inputs = row.inputs_detail;
    for (size_t k = 0; k < inputs.size(); ++k) {
        row.inputs += (k == 0 ? "" : ", ") + inputs[k].name;
        if (k + 1 == inputs.size() || inputs[k + 1].shape != inputs[k].shape) row.inputs += " " + inputs[k].shape;
    }
    return row;
}

std::vector<GradcheckSuiteRow> run_gradcheck_suite(const std::vector<std::string>& names, uint64_t seed,
                                                   Kernels kernels) {
    const std::vector<Check> checks = catalogue();
    std::vector<const Check*> chosen;
    for (const Check& c : checks)
        if (names.empty()) chosen.push_back(&c);
    for (const std::string& name : names) {
        const Check* found = nullptr;
        for (const Check& c : checks)
            if (name == c.name) found = &c;
        check(found != nullptr, "gradcheck: unknown check '", name, "'; the known checks are: ", known_names(checks));
        chosen.push_back(found);
    }

    std::vector<GradcheckSuiteRow> rows;
    for (const Check* c : chosen) {
        Rng rng(seed);  // each check draws its inputs from the seed alone, whatever else runs
        const Problem problem = c->make(rng);
        if (problem.module) problem.module->use_kernels(kernels);  // a layer or model: fast or textbook path
        const GradcheckReport report = gradcheck(problem.f, problem.inputs, gradcheck_suite_options(seed));
        rows.push_back(gradcheck_row(c->name, report, problem.names));
        if (!problem.inputs_text.empty()) rows.back().inputs = problem.inputs_text;
    }
    return rows;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
