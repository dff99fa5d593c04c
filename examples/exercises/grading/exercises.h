#pragma once
// The exercises: for each, the type of the function the learner writes, what `make exercises` shows of it,
// and its grader (examples/exercises/grading/<name>.cpp). The learner's file is examples/exercises/<name>.cpp;
// docs/exercises.md lists them in the order of the chapters.
//
// Every function is float64 (the exercises build in the gradient-check flavour) and every tensor argument
// is a plain value: no gradient is recorded for it, so a backward must be computed by hand, the way an op's
// backward closure in core/ops/ computes it.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "examples/exercises/grading/grader.h"
#include "optim/optimizer.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// ---- 1. broadcast_mul_backward (docs/ops_elementwise.md) ------------------------------------------------
// out = a * b with broadcasting; given dout, return (da, db), each of its input's shape.
using BroadcastMulBackward = std::function<std::pair<Tensor, Tensor>(const Tensor& a, const Tensor& b, const Tensor& dout)>;
extern const ExerciseInfo broadcast_mul_backward_info;
void grade_broadcast_mul_backward(const BroadcastMulBackward& learner_fn, Grader& grader);

// ---- 2. matmul_backward (docs/matmul.md) --------------------------------------------------------------------
// out = a @ b, batch dimensions broadcast; given dout, return (da, db).
using MatmulBackward = std::function<std::pair<Tensor, Tensor>(const Tensor& a, const Tensor& b, const Tensor& dout)>;
extern const ExerciseInfo matmul_backward_info;
void grade_matmul_backward(const MatmulBackward& learner_fn, Grader& grader);

// ---- 3. softmax_backward (docs/layers_math.md) ----------------------------------------------------------------
// y = softmax(x, -1); given y and dy, return dx.
using SoftmaxBackward = std::function<Tensor(const Tensor& y, const Tensor& dy)>;
extern const ExerciseInfo softmax_backward_info;
void grade_softmax_backward(const SoftmaxBackward& learner_fn, Grader& grader);

// ---- 4. cross_entropy_backward (docs/layers_math.md) ------------------------------------------------------------
// loss = cross_entropy(logits, targets, smoothing) (a mean over rows); return dloss/dlogits.
using CrossEntropyBackward = std::function<Tensor(const Tensor& logits, const Tensor& targets, double smoothing)>;
extern const ExerciseInfo cross_entropy_backward_info;
void grade_cross_entropy_backward(const CrossEntropyBackward& learner_fn, Grader& grader);

// ---- 5. layer_norm_backward (docs/layers_math.md) ---------------------------------------------------------------
// out = layer_norm(x, weight, bias, eps) over the last dimension; given dout, return dx, dweight, dbias.
struct LayerNormGradients {
    Tensor dx;       // x.shape
    Tensor dweight;  // (C)
    Tensor dbias;    // (C)
};
using LayerNormBackward =
    std::function<LayerNormGradients(const Tensor& x, const Tensor& weight, const Tensor& dout, double eps)>;
extern const ExerciseInfo layer_norm_backward_info;
void grade_layer_norm_backward(const LayerNormBackward& learner_fn, Grader& grader);

// ---- 6. gelu_backward (docs/layers_math.md) ---------------------------------------------------------------------
// out = gelu(x) = x Phi(x); given dout, return dx.
using GeluBackward = std::function<Tensor(const Tensor& x, const Tensor& dout)>;
extern const ExerciseInfo gelu_backward_info;
void grade_gelu_backward(const GeluBackward& learner_fn, Grader& grader);

// ---- 7. attention_backward (docs/attention.md) ------------------------------------------------------------------
// out = softmax(q @ k^T * scale) @ v for q, k, v (B, H, T, D); given dout, return dq, dk, dv.
struct AttentionGradients {
    Tensor dq, dk, dv;  // each (B, H, T, D)
};
using AttentionBackward = std::function<AttentionGradients(const Tensor& q, const Tensor& k, const Tensor& v,
                                                           const Tensor& dout, double scale)>;
extern const ExerciseInfo attention_backward_info;
void grade_attention_backward(const AttentionBackward& learner_fn, Grader& grader);

// ---- 8. patch_embedding (docs/vit_layers.md) ---------------------------------------------------------------------
// images (B, C, H, W), weight (E, C*P*P), bias (E) -> tokens (B, N, E), N = (H/P)(W/P), with reshape,
// permute and matmul only (differentiable ops, so the grader also checks gradients through it).
using PatchEmbeddingForward =
    std::function<Tensor(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t patch)>;
extern const ExerciseInfo patch_embedding_info;
void grade_patch_embedding(const PatchEmbeddingForward& learner_fn, Grader& grader);

// ---- 8b. convolution (docs/convolution.md) -----------------------------------------------------------------------
// images (B, C, H, W), weight (E, C*k*k), bias (E), kernel k, stride s, padding p -> (B, Ho*Wo, E), with
// concat, slice, stack, permute, reshape and matmul only (the grader also checks gradients through it).
using ConvolutionForward = std::function<Tensor(const Tensor& images, const Tensor& weight, const Tensor& bias,
                                                int64_t kernel, int64_t stride, int64_t padding)>;
extern const ExerciseInfo convolution_info;
void grade_convolution(const ConvolutionForward& learner_fn, Grader& grader);

// ---- 9. window_partition (docs/swin_windows.md) -------------------------------------------------------------------
// x (B, H, W, C) -> (B * nW, M*M, C), with reshape and permute.
using WindowPartition = std::function<Tensor(const Tensor& x, int64_t M)>;
extern const ExerciseInfo window_partition_info;
void grade_window_partition(const WindowPartition& learner_fn, Grader& grader);

// ---- 10. window_reverse (docs/swin_windows.md) --------------------------------------------------------------------
// windows (B * nW, M*M, C) -> (B, H, W, C), the inverse of window_partition.
using WindowReverse = std::function<Tensor(const Tensor& windows, int64_t M, int64_t H, int64_t W)>;
extern const ExerciseInfo window_reverse_info;
void grade_window_reverse(const WindowReverse& learner_fn, Grader& grader);

// ---- 11. shifted_window_mask (docs/swin_windows.md) ---------------------------------------------------------------
// -> (nW, M*M, M*M): 0 where query and key lie in the same region of the shifted grid, -100 elsewhere.
using ShiftedWindowMask = std::function<Tensor(int64_t H, int64_t W, int64_t M, int64_t shift)>;
extern const ExerciseInfo shifted_window_mask_info;
void grade_shifted_window_mask(const ShiftedWindowMask& learner_fn, Grader& grader);

// ---- 12. relative_position_index (docs/swin_windows.md) -----------------------------------------------------------
// -> (M*M, M*M) whole numbers: the row of the bias table for each (query, key) pair of a window.
using RelativePositionIndex = std::function<Tensor(int64_t M)>;
extern const ExerciseInfo relative_position_index_info;
void grade_relative_position_index(const RelativePositionIndex& learner_fn, Grader& grader);

// ---- 13. adamw_step (docs/optimizers.md) --------------------------------------------------------------------------
// Does a parameter get weight decay (the exclusion rule)? And one AdamW update of one parameter, in place.
struct AdamWSettings {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.05;
};
using AdamWDecays = std::function<bool(const std::string& name, const Tensor& param)>;
// param, exp_avg (m) and exp_avg_sq (v) are updated in place; step is t = 1, 2, ...; decay says whether
// weight decay applies to this parameter.
using AdamWStep = std::function<void(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                                     int64_t step, const AdamWSettings& settings, bool decay)>;
extern const ExerciseInfo adamw_step_info;
void grade_adamw_step(const AdamWDecays& learner_decays, const AdamWStep& learner_step, Grader& grader);

// Every exercise, in the order of the chapters.
std::vector<ExerciseInfo> all_exercises();

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad

// ---- the exercises of the first chapters and of training ------------------------------------------------------
namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// row_major_offset (docs/tensor.md): where element `index` of a tensor of `shape` sits in its flat buffer.
using RowMajorOffset = std::function<int64_t(const std::vector<int64_t>& index, const Shape& shape)>;
extern const ExerciseInfo row_major_offset_info;
void grade_row_major_offset(const RowMajorOffset& learner_fn, Grader& grader);

// tanh_op (docs/autograd.md): an op of your own, forward and backward, recorded with set_backward.
using TanhOp = std::function<Tensor(const Tensor& x)>;
extern const ExerciseInfo tanh_op_info;
void grade_tanh_op(const TanhOp& learner_fn, Grader& grader);

// central_difference (docs/gradcheck.md): d/dx sum(f(x) * probe), measured; x must come back unchanged.
using CentralDifference = std::function<Tensor(const std::function<Tensor(const Tensor&)>& f, Tensor& x,
                                               const Tensor& probe, double eps)>;
extern const ExerciseInfo central_difference_info;
void grade_central_difference(const CentralDifference& learner_fn, Grader& grader);

// permute_backward (docs/ops_movement.md): out = permute(x, dims); given dout, return dx.
using PermuteBackward = std::function<Tensor(const Tensor& dout, const std::vector<int64_t>& dims)>;
extern const ExerciseInfo permute_backward_info;
void grade_permute_backward(const PermuteBackward& learner_fn, Grader& grader);

// crop_and_flip (docs/data.md): the window of the image padded by P, corner (dy, dx), mirrored if flip.
using CropAndFlip = std::function<Tensor(const Tensor& image, int64_t dy, int64_t dx, int64_t P, bool flip)>;
extern const ExerciseInfo crop_and_flip_info;
void grade_crop_and_flip(const CropAndFlip& learner_fn, Grader& grader);

// training_step (docs/training.md): one learning step; returns the loss before the update.
//   model: images -> logits (N, classes); optimizer over the model's parameters
using TrainingStep = std::function<double(const std::function<Tensor(const Tensor&)>& model, const Tensor& images,
                                          const Tensor& labels, Optimizer& optimizer, double max_grad_norm)>;
extern const ExerciseInfo training_step_info;
void grade_training_step(const TrainingStep& learner_fn, Grader& grader);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
