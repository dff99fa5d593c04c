#pragma once
// The reference solutions of examples/exercises/*.cpp, one file each in this folder, kept apart from the
// skeletons so that a learner reading an exercise does not see its answer. tests/test_exercises.cpp and
// tests/test_exercises_layers.cpp grade them: every grader must pass its solution, and fail the untouched
// skeleton and planted mistakes.
#include <string>
#include <utility>

#include "core/ops.h"
#include "examples/exercises/grading/exercises.h"
#include "nn/window.h"

using namespace patchgrad;

namespace solution {
Tensor reduce_to(Tensor grad, const Shape& shape);  // the sum over broadcast dimensions, shared by two solutions
std::pair<Tensor, Tensor> broadcast_mul_backward(const Tensor& a, const Tensor& b, const Tensor& dout);
std::pair<Tensor, Tensor> matmul_backward(const Tensor& a, const Tensor& b, const Tensor& dout);
Tensor softmax_backward(const Tensor& y, const Tensor& dy);
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, double smoothing);
LayerNormGradients layer_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& dout, double eps);
Tensor gelu_backward(const Tensor& x, const Tensor& dout);
AttentionGradients attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout,
                                      double scale);
Tensor patch_embedding(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t patch);
Tensor convolution(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t k, int64_t s, int64_t p);
Tensor window_partition(const Tensor& x, int64_t M);
Tensor window_reverse(const Tensor& windows, int64_t M, int64_t H, int64_t W);
Tensor shifted_window_mask(int64_t H, int64_t W, int64_t M, int64_t shift);
Tensor relative_position_index(int64_t M);
bool adamw_decays(const std::string& name, const Tensor& param);
int64_t row_major_offset(const std::vector<int64_t>& index, const Shape& shape);
Tensor tanh_op(const Tensor& x);
Tensor central_difference(const std::function<Tensor(const Tensor&)>& f, Tensor& x, const Tensor& probe, double eps);
Tensor permute_backward(const Tensor& dout, const std::vector<int64_t>& dims);
Tensor crop_and_flip(const Tensor& image, int64_t dy, int64_t dx, int64_t P, bool flip);
double training_step(const std::function<Tensor(const Tensor&)>& model, const Tensor& images, const Tensor& labels,
                     Optimizer& optimizer, double max_grad_norm);
void adamw_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, int64_t step,
                const AdamWSettings& settings, bool decay);
}  // namespace solution
