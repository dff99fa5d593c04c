// A reference solution of examples/exercises/patch_embedding.cpp, kept apart from the skeleton.
// docs/vit_layers.md, section 2: patchify by reshape, permute, reshape; then one matrix product.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor patch_embedding(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
    const int64_t B = images.size(0), C = images.size(1), h = images.size(2) / P, w = images.size(3) / P;
    Tensor x = reshape(images, {B, C, h, P, w, P});                 // (b, c, i, u, j, v)
    x = permute(x, {0, 2, 4, 1, 3, 5});                             // (b, i, j, c, u, v)
    const Tensor patches = reshape(x, {B, h * w, C * P * P});       // (B, N, C*P*P)
    return matmul(patches, transpose(weight, 0, 1)) + bias;         // (B, N, C*P*P) @ (C*P*P, E) -> (B, N, E)
}

}  // namespace solution
