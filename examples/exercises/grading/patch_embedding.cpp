// Grades examples/exercises/patch_embedding.cpp: images to patch tokens, with reshape, permute and matmul.
#include "examples/exercises/grading/exercises.h"
#include "nn/embedding.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo patch_embedding_info{
    12,
    "patch_embedding",
    "the patch embedding",
    "docs/vit_layers.md, section 2",
    "patches = reshape(permute(reshape(images, (B, C, h, P, w, P)), (0, 2, 4, 1, 3, 5)), (B, h*w, C*P*P)); "
    "tokens = patches @ weight^T + bias",
    "you can cut images into square patches with reshape and permute alone, in the (c, u, v) order the weight "
    "expects, and that a ViT's first layer is then one matrix product, through which gradients flow",
};

void grade_patch_embedding(const PatchEmbeddingForward& learner_fn, Grader& grader) {
    // (B, C, H, W), patch P, embedding E; smallest first. P = 1: every pixel a patch. H != W twice: a patch
    // grid of h rows and w columns, numbered row by row, where a swapped h and w shows.
    struct Case {
        Shape images;
        int64_t P, E;
    };
    const std::vector<Case> cases = {{{1, 1, 1, 1}, 1, 1}, {{1, 1, 4, 4}, 2, 3}, {{1, 2, 4, 6}, 2, 3},
                                     {{2, 3, 4, 4}, 2, 5}, {{2, 2, 9, 6}, 3, 4}};
    for (const Case& c : cases) {
        const int64_t C = c.images[1], P = c.P, E = c.E;
        const int64_t N = (c.images[2] / P) * (c.images[3] / P);
        grader.begin_case("images " + to_string(c.images) + ", P " + std::to_string(P) + ", E " + std::to_string(E));
        const Tensor images = grader.random(c.images);
        const Tensor weight = grader.random({E, C * P * P});  // (E, C*P*P): the convolution's (E, C, P, P), flat
        const Tensor bias = grader.random({E});               // never zero: a forgotten bias shows
        const Tensor tokens = grader.call([&] { return learner_fn(images, weight, bias, P); });
        grader.expect_shape("tokens", tokens, {c.images[0], N, E});
        grader.expect_close("tokens", tokens, linear(patchify(images, P), weight, bias), kSameMath,
                            "linear(patchify(images, P), weight, bias), nn/embedding.h");
        grader.expect_gradients_flow(
            "tokens", [&](const std::vector<Tensor>& in) { return learner_fn(in[0], in[1], in[2], P); },
            {images, weight, bias}, {"images", "weight", "bias"});
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
