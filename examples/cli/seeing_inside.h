#pragma once
// The tools that look inside a model (docs/seeing_inside.md): the attention pictures of `patchgrad
// attention` (attention.cpp) and the autograd graph of `patchgrad graph` (graph.cpp), as plain functions
// that the commands call and tests/f32/test_seeing_inside.cpp calls directly.
//
// Legend: T tokens, N patches (T = N + 1 with a CLS token), H heads, g = sqrt(N) the patch grid's side.
#include <string>
#include <vector>

#include "core/tensor.h"
#include "examples/cli/config.h"
#include "examples/cli/png.h"

namespace patchgrad::cli {

// A very small model of either kind, for pictures and graphs that should take milliseconds: ViT patch 8
// (a 4 x 4 grid on CIFAR-10, patch 7 on MNIST), width 16, 2 blocks of 2 heads, a CLS token, the patch
// embedding; Swin patch 4 and window 4
// on CIFAR-10 (8 x 8 tokens), patch 2 and window 7 on MNIST (14 x 14), C0 8, depths 2,2, heads 1,2: stage 0
// has 4 windows and a shifted block, stage 1 one window.
TrainConfig tiny_config(const std::string& model, const std::string& dataset = "cifar10");

// One training step's loss, with its autograd graph: `config`'s model, seeded from config.seed, in
// training mode, on a random batch of 2 images and labels, cross-entropy. No backward has run.
Tensor training_graph_loss(const TrainConfig& config);
// That graph as Graphviz DOT (Tensor::to_dot).
std::string training_graph_dot(const TrainConfig& config);

// ---- attention maps (attention.cpp) ---------------------------------------------------------------------

// Attention rollout (Abnar & Zuidema 2020): with A_l (T, T) block l's attention averaged over its heads,
//   Â_l = (A_l + I) / 2                  the residual connection: half the token stays itself
//   R = Â_{L-1} · ... · Â_1 · Â_0        how much each output token draws on each input token
// Every Â_l has rows summing to 1 (A_l's do, I's do, the mean of two such rows does), so R's rows do too.
//   attention: one (1, H, T, T) tensor per block, first block first  ->  R (T, T) row-major
std::vector<double> attention_rollout(const std::vector<Tensor>& attention);

// The mean over heads of one block's attention: (1, H, T, T) -> (T, T) row-major.
std::vector<double> mean_over_heads(const Tensor& attention);

// What the pooled output reads from each patch, given a (T, T) row-major matrix M (an attention or R):
//   with a CLS token (T = N + 1):  M[0, 1 + n]                    the CLS row over the patches
//   without (mean pooling, T = N): (1/T) sum_i M[i, n]           the mean attention patch n receives
std::vector<double> patch_relevance(const std::vector<double>& matrix, int64_t T, bool has_cls);

// The picture `patchgrad attention` draws, with the words that say what each panel shows and the logits.
struct AttentionPicture {
    PngImage png;
    std::string caption;  // also stored in the PNG as its "Description"
    Tensor logits;        // (1, K)
};

// The picture for `input` ((1, C, S, S), normalised) whose bytes are `pixels` ((C, S, S), for display),
// through `model` (built from `config`): see docs/seeing_inside.md for the layout. `block` is the Swin
// block to show, counted over all stages from 0; -1 picks the first shifted block of stage 0 (or block
// 0 when there is none). The ViT ignores it.
AttentionPicture render_attention(const ImageClassifier& model, const TrainConfig& config, const Tensor& input,
                                  const std::vector<uint8_t>& pixels, int64_t block);

}  // namespace patchgrad::cli
