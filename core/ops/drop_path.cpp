// drop_path: stochastic depth, the regulariser that drops a whole residual branch for some samples of a
// batch (Huang et al. 2016, "Deep Networks with Stochastic Depth"; timm's drop_path and DropPath), and the
// rule that gives each block its rate. docs/vit_layers.md, section 8, tells why it helps.
//
// Legend: B batch, S the numbers of one sample (x.numel() / B), b a sample, i a number within it.
#include <vector>

#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// drop_path: out[b, i] = x[b, i] * scale[b]                              (timm.layers.drop_path)
//   x (B, ...) -> x.shape;  0 <= rate < 1
//   training:  scale[b] = 1 / (1 - rate) with probability 1 - rate, else 0: one draw per sample, from
//              rng, in sample order (serial, so the mask never depends on the number of threads)
//   eval, or rate 0:  out = x  (the same tensor: nothing drawn, nothing recorded)
//
//   Why 1 / (1 - rate)? Sample b survives with probability 1 - rate, so E[out[b]] = x[b]: the block
//   contributes as much on average in training as it does in evaluation, where nothing is dropped.
//   Dropout drops single numbers; drop_path drops a sample's whole branch, so in a residual block
//   x + drop_path(f(x)) that sample skips the block: the network it trains is a random shallower one.
//
//   The derivative: scale is a constant of the forward (drawn, not computed from x), so
//     d out[b, i] / d x[b, i] = scale[b],  and no other output depends on x[b, i]:
//     dx[b, i] += dout[b, i] * scale[b]       a dropped sample gets zero gradient through this path
Tensor drop_path(const Tensor& x, double rate, bool training, Rng& rng) {
    check_defined(x, "drop_path", "the input");
    // rate = 1 would drop every sample and divide by zero; a NaN fails both comparisons.
    check(rate >= 0.0 && rate < 1.0, "drop_path: rate ", rate, " must satisfy 0 <= rate < 1");
    check(x.dim() >= 1, "drop_path: the input ", x.shape(), " has no batch dimension: expected (B, ...)");
    if (!training || rate == 0.0) return x;

    const int64_t B = x.size(0), S = B == 0 ? 0 : x.numel() / B;
    const Scalar keep_scale = static_cast<Scalar>(1.0 / (1.0 - rate));
    std::vector<Scalar> scale(static_cast<size_t>(B));                // (B): 0 or 1/(1-rate)
    for (int64_t b = 0; b < B; ++b)                                   // serial: one rng stream, one order
        scale[size_t(b)] = rng.uniform() >= rate ? keep_scale : Scalar(0);  // kept with probability 1 - rate

    Tensor out = Tensor::empty(x.shape());
    const Scalar* px = x.data();
    const Scalar* s = scale.data();
    Scalar* po = out.data();
#pragma omp parallel for collapse(2) if (B * S >= kParallelElements)  // iteration (b, i) owns po[b*S + i]
    for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < S; ++i) po[b * S + i] = px[b * S + i] * s[b];  // out[b, i] = x[b, i] * scale[b]

    out.set_backward("drop_path", {x}, [x, scale = std::move(scale), B, S](const Tensor& dout) {
        GradAccumulator dx = x.grad_accumulator();
        const Scalar* g = dout.data();
        const Scalar* sb = scale.data();
#pragma omp parallel for collapse(2) if (B * S >= kParallelElements)  // iteration (b, i) owns dx[b*S + i]
        for (int64_t b = 0; b < B; ++b)
            for (int64_t i = 0; i < S; ++i) dx[b * S + i] += g[b * S + i] * sb[b];  // dx[b, i] += dout[b, i] * scale[b]
    });
    return out;
}

// The linear rule of the paper (section 4, "linear decay"), as timm's models build it: block i of n gets
//   rate_i = max_rate * i / (n - 1)
// so the first block, whose features every later block builds on, is never dropped, and the last is
// dropped most. A lone block gets max_rate. (timm's torch.linspace(0, max_rate, 1) would give it 0.)
std::vector<double> stochastic_depth_rates(double max_rate, int64_t blocks) {
    check(max_rate >= 0.0 && max_rate < 1.0, "stochastic_depth_rates: max_rate ", max_rate,
          " must satisfy 0 <= max_rate < 1");
    check(blocks >= 0, "stochastic_depth_rates: blocks must be >= 0, got ", blocks);
    std::vector<double> rates;
    for (int64_t i = 0; i < blocks; ++i)
        rates.push_back(blocks == 1 ? max_rate : max_rate * static_cast<double>(i) / static_cast<double>(blocks - 1));
    return rates;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
