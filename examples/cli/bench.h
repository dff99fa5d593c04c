#pragma once
// The pieces of `patchgrad bench --layers` (bench_layers.cpp): the layers of one block of the reference
// tiny ViT or of the tiny Swin's first stage, each as a small graph on random input at the model's real
// shapes, and the timing of its forward and backward. tests/bench/torch_layers.py builds the same layers
// from PyTorch's own modules and prints the same lines, so tests/bench/bench_all.sh can set them side by
// side. docs/performance.md shows the table.
//
// Legend: B batch, T tokens (65 for the ViT), C channels, H W the Swin stage's token grid (16 x 16),
// M window side (4), N = M*M tokens per window, nW windows per image (16), nH heads.
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace patchgrad::cli {

// One layer kind to time, e.g. the ViT's qkv projection:
//   name "linear_qkv", leaves {x (B*T, 128), weight (384, 128), bias (384)}, forward = linear(x, w, b),
//   forward_flops 2 * B*T * 128 * 384
// forward_flops counts the layer's matrix products only, 2 flops a multiply-add: a Linear's, attention's
// q k^T and weights @ v, patch merging's reduction. Each product's backward is two products of its size
// (dX = dY W^T, dW = X^T dY; attention's four), so forward and backward together do 3 x forward_flops.
// The other layers (LayerNorm, GELU, the residual addition, the window gathers, the loss) do a few flops
// per number they read and write: memory, not arithmetic, sets their pace, and they count 0.
struct LayerBench {
    std::string name;                 // as torch_layers.py names it: "layer_norm", "linear_qkv", "attention", ...
    std::vector<Tensor> leaves;       // leaves[0] is the input; then the parameters. All require grad.
    std::function<Tensor()> forward;  // builds the layer's graph from the leaves (grad mode on)
    double forward_flops = 0;         // of its matrix products; 0: a memory-bound layer
};

// The layers of `model` ("vit" or "swin") at batch B, with inputs and parameters drawn from `rng`:
//   vit  (one block, T = 65, C = 128, 4 heads, MLP 256): layer_norm, linear_qkv, attention, linear_proj,
//        linear_fc1, gelu, linear_fc2, residual_add, cross_entropy
//   swin (stage 0, 16 x 16 tokens, C = 64, 2 heads, window 4, shift 2, MLP 128): layer_norm, roll,
//        window_partition, linear_qkv, window_attention, window_attention_shifted, linear_proj,
//        window_reverse, linear_fc1, gelu, linear_fc2, residual_add, patch_merging, cross_entropy
// Throws UsageError for another model name.
// kernels reference: each layer runs its textbook twin (linear_reference, ..., core/ops.h) instead.
std::vector<LayerBench> layer_benches(const std::string& model, int64_t batch, Rng& rng,
                                      Kernels kernels = Kernels::fast);

struct LayerTiming {
    double forward_ms;   // median time of forward(): the op(s) and the recording of the graph
    double backward_ms;  // median time of out.backward(probe): every leaf's gradient, freshly allocated
    Shape output_shape;
};

// Runs the layer warmup + steps times. Each run drops the leaves' gradients (as optimizer.zero_grad()
// does, untimed), times forward(), then times out.backward(probe) with a fixed random probe of out's shape
// (1 for a scalar loss): the backward of the loss sum(out * probe). Medians over the `steps` timed runs.
LayerTiming time_layer(const LayerBench& layer, int64_t steps, int64_t warmup);

// "model=vit threads=2 batch=128 layer=linear_qkv in=8320x128 out=8320x384 fwd_ms=1.234 bwd_ms=2.345", the
// line torch_layers.py prints too, then " gflop_s=261.4 peak_frac=0.553": the layer's product flops,
// forward and backward (3 x forward_flops), per second of its forward and backward time, and that rate over
// the FMA peak `peak_gflop_s` (core/fma_peak.h); "gflop_s=- peak_frac=-" for a memory-bound layer. A shape
// is written with 'x' between sizes, "scalar" for ().
std::string layer_line(const std::string& model, int64_t threads, int64_t batch, const LayerBench& layer,
                       const LayerTiming& timing, double peak_gflop_s);

// The product flops per second of `layer` at `timing`, in billions: 3 x forward_flops over the forward and
// backward milliseconds together; 0 for a memory-bound layer.
double layer_gflop_s(const LayerBench& layer, const LayerTiming& timing);

// The median: the middle value, or the mean of the two middle values for an even count (Python's
// statistics.median, which torch_ref.py and torch_layers.py use). Throws for no values.
double median(std::vector<double> values);

}  // namespace patchgrad::cli
