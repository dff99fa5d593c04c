// Exercise: the patch embedding.                                 make exercise NAME=patch_embedding
//
// The forward (nn/embedding.cpp: patchify, then PatchEmbedding's linear map), for images (B, C, H, W)
// cut into P x P patches, a grid of h = H / P rows and w = W / P columns, N = h * w patches:
//     tokens[b, i*w + j, e] = bias[e] + sum_{c,u,v} weight[e, (c*P + u)*P + v] * images[b, c, i*P + u, j*P + v]
// Patch n = i*w + j is the square whose top-left pixel is (i*P, j*P): patches numbered row by row, and the
// pixels of a patch in (c, u, v) order: channel, then row inside the patch, then column.
// Your job: compute tokens with reshape, permute and matmul (and +), no loops over the numbers: the grader
// also runs autograd backwards through your function and compares with central differences.
//
// Hints, in the order you may want them:
//   1. The row index i*P + u is two indices (i, u) side by side in memory, the column j*P + v too: a
//      reshape splits them, (B, C, H, W) -> (B, C, h, P, w, P). No number moves.
//   2. A permute brings the patch's (i, j) in front of its (c, u, v); a last reshape merges (i, j) into
//      n and (c, u, v) into one feature index (B, N, C*P*P). Skip the permute and every "patch" is a strip
//      of one pixel row: the right shape, the wrong numbers (docs/vit_layers.md, section 2, the pitfall).
//   3. Then one shared linear map: (B, N, C*P*P) @ weight^T + bias. transpose(weight, 0, 1) is (C*P*P, E);
//      matmul broadcasts it over the batch; bias (E) broadcasts over (B, N, E).
//
//   images (B, C, H, W)  weight (E, C*P*P)  bias (E)  P  ->  tokens (B, N, E),  N = (H/P) (W/P)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor patch_embedding(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
    // Your code here: compute the tokens and return them.
    not_implemented("patch_embedding");
}

}  // namespace learner

// The grader (examples/exercises/grading/patch_embedding.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, patch_embedding_info,
                        [](Grader& grader) { grade_patch_embedding(learner::patch_embedding, grader); });
}
