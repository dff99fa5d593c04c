// The graders of the layer exercises (7 to 13: attention, patch embedding, Swin's windows, AdamW), tested as
// tests/test_exercises.cpp tests the first ones: each passes its reference solution on several seeds and
// fails planted mistakes (a sign flip, a dropped term, a transposition, a wrong window order, a value that
// leaves the autograd graph, decayed biases, a forgotten bias correction). That every untouched skeleton is
// graded "not started" is checked there, for every exercise of the catalogue.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "tests/exercises/grading_helpers.h"
#include "tests/exercises/solutions/solutions.h"
#include "tests/helpers.h"

namespace {

// ---- 7. attention_backward ---------------------------------------------------------------------------------

enum class AttentionMistake { none, no_scale, no_row_sum, P_not_transposed, dS_not_transposed };

// docs/attention.md, section 6, with one planted mistake.
AttentionGradients attention_backward_with(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout,
                                           double scale, AttentionMistake mistake) {
    const Tensor P = softmax(matmul(q, transpose(k, -2, -1)) * scale, -1);  // (B, H, T, T)
    const Tensor dv = mistake == AttentionMistake::P_not_transposed ? matmul(P, dout)
                                                                    : matmul(transpose(P, -2, -1), dout);
    const Tensor dP = matmul(dout, transpose(v, -2, -1));
    const Tensor dS = mistake == AttentionMistake::no_row_sum ? P * dP : P * (dP - sum(dP * P, -1, true));
    const double s = mistake == AttentionMistake::no_scale ? 1.0 : scale;
    const Tensor dk = mistake == AttentionMistake::dS_not_transposed ? matmul(dS, q) * s
                                                                     : matmul(transpose(dS, -2, -1), q) * s;
    return {matmul(dS, k) * s, dk, dv};
}

}  // namespace

TEST_CASE("exercises: attention_backward") {
    auto with = [](AttentionBackward f) { return [f](Grader& g) { grade_attention_backward(f, g); }; };
    auto mistake = [&with](AttentionMistake m) {
        return with([m](const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout, double scale) {
            return attention_backward_with(q, k, v, dout, scale, m);
        });
    };
    check_solution_passes(attention_backward_info, with(solution::attention_backward));
    check_solution_passes(attention_backward_info, mistake(AttentionMistake::none));
    check_mutant_fails(attention_backward_info, "dq and dk without the scale", mistake(AttentionMistake::no_scale),
                       "dq: ");
    check_mutant_fails(attention_backward_info, "softmax's backward without the row sum",
                       mistake(AttentionMistake::no_row_sum), "dq: ");
    check_mutant_fails(attention_backward_info, "dv = P dout (P not transposed)",
                       mistake(AttentionMistake::P_not_transposed), "dv: ");
    check_mutant_fails(attention_backward_info, "dk = dS q (dS not transposed)",
                       mistake(AttentionMistake::dS_not_transposed), "dk: ");
}

// ---- 8. patch_embedding ------------------------------------------------------------------------------------

TEST_CASE("exercises: patch_embedding") {
    auto with = [](PatchEmbeddingForward f) { return [f](Grader& g) { grade_patch_embedding(f, g); }; };
    // patchify with a chosen split and permutation, then tokens = patches @ weight^T + bias.
    auto patches_of = [](const Tensor& images, int64_t P, bool swap_grid, const std::vector<int64_t>& order) {
        const int64_t B = images.size(0), C = images.size(1), h = images.size(2) / P, w = images.size(3) / P;
        const Tensor x = swap_grid ? reshape(images, {B, C, w, P, h, P}) : reshape(images, {B, C, h, P, w, P});
        return reshape(permute(x, order), {B, h * w, C * P * P});
    };
    const std::vector<int64_t> right = {0, 2, 4, 1, 3, 5};
    check_solution_passes(patch_embedding_info, with(solution::patch_embedding));
    check_mutant_fails(patch_embedding_info, "reshape alone, no permute (the pitfall)",
                       with([](const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
                           const int64_t B = images.size(0), N = images.size(2) / P * (images.size(3) / P);
                           return matmul(reshape(images, {B, N, -1}), transpose(weight, 0, 1)) + bias;
                       }),
                       "tokens: ");
    check_mutant_fails(patch_embedding_info, "(c, v, u) order inside a patch: the patch transposed",
                       with([&](const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
                           return matmul(patches_of(images, P, false, {0, 2, 4, 1, 5, 3}), transpose(weight, 0, 1)) +
                                  bias;
                       }));
    check_mutant_fails(patch_embedding_info, "the patch grid's h and w swapped",
                       with([&](const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
                           return matmul(patches_of(images, P, true, right), transpose(weight, 0, 1)) + bias;
                       }));
    check_mutant_fails(patch_embedding_info, "weight reshaped to (C*P*P, E) instead of transposed",
                       with([&](const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
                           return matmul(patches_of(images, P, false, right), reshape(weight, {-1, weight.size(0)})) +
                                  bias;
                       }));
    check_mutant_fails(patch_embedding_info, "no bias",
                       with([&](const Tensor& images, const Tensor& weight, const Tensor&, int64_t P) {
                           return matmul(patches_of(images, P, false, right), transpose(weight, 0, 1));
                       }));
    check_mutant_fails(patch_embedding_info, "the right numbers, copied out of the graph",
                       with([](const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
                           return solution::patch_embedding(images, weight, bias, P).clone();
                       }),
                       "tokens records no gradient");
    check_mutant_fails(patch_embedding_info, "bias detached: no gradient reaches it",
                       with([&](const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t P) {
                           return matmul(patches_of(images, P, false, right), transpose(weight, 0, 1)) + bias.detach();
                       }),
                       "d/dbias: ");
}

// ---- 8b. convolution ----------------------------------------------------------------------------------------

namespace {

enum class ConvolutionMistake { none, stride_ignored, padding_ignored, one_side_padded, u_v_swapped, no_bias };

// The reference solution's steps (pad, a strided slice per offset, stack, permute, matmul), with one
// planted mistake.
Tensor convolution_with(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t k, int64_t s,
                        int64_t p, ConvolutionMistake mistake) {
    const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    const int64_t pad = mistake == ConvolutionMistake::padding_ignored ? 0 : p;
    const int64_t stride = mistake == ConvolutionMistake::stride_ignored ? 1 : s;
    const int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;  // the right sizes
    Tensor padded = images;
    if (pad > 0) {
        const Tensor rows = Tensor::zeros({B, C, pad, W}), columns = Tensor::zeros({B, C, H + 2 * pad, pad});
        const bool both = mistake != ConvolutionMistake::one_side_padded;
        padded = both ? concat({rows, padded, rows}, 2) : concat({rows, rows, padded}, 2);
        padded = both ? concat({columns, padded, columns}, 3) : concat({columns, columns, padded}, 3);
    }
    const int64_t rows_out = std::min(Ho, (padded.size(2) - k) / stride + 1);
    const int64_t columns_out = std::min(Wo, (padded.size(3) - k) / stride + 1);
    std::vector<Tensor> offsets;
    for (int64_t u = 0; u < k; ++u)
        for (int64_t v = 0; v < k; ++v) {
            const int64_t du = mistake == ConvolutionMistake::u_v_swapped ? v : u;
            const int64_t dv = mistake == ConvolutionMistake::u_v_swapped ? u : v;
            const Tensor rows = slice(padded, 2, du, du + (rows_out - 1) * stride + 1, stride);
            offsets.push_back(slice(rows, 3, dv, dv + (columns_out - 1) * stride + 1, stride));
        }
    const Tensor windows =
        reshape(permute(stack(offsets, 2), {0, 3, 4, 1, 2}), {B, rows_out * columns_out, C * k * k});
    const Tensor out = matmul(windows, transpose(weight, 0, 1));
    return mistake == ConvolutionMistake::no_bias ? out : out + bias;
}

}  // namespace

TEST_CASE("exercises: convolution") {
    auto with = [](ConvolutionForward f) { return [f](Grader& g) { grade_convolution(f, g); }; };
    auto mistake = [&with](ConvolutionMistake m) {
        return with([m](const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t k, int64_t s,
                        int64_t p) { return convolution_with(images, weight, bias, k, s, p, m); });
    };
    check_solution_passes(convolution_info, with(solution::convolution));
    check_solution_passes(convolution_info, mistake(ConvolutionMistake::none));
    check_mutant_fails(convolution_info, "every window one pixel apart: the stride ignored",
                       mistake(ConvolutionMistake::stride_ignored), "out: ");
    check_mutant_fails(convolution_info, "no padding: the windows start at (i*s, j*s)",
                       mistake(ConvolutionMistake::padding_ignored), "out has shape (1, 1, 2), expected (1, 4, 2)");
    check_mutant_fails(convolution_info, "all the zeros above and left, none below and right",
                       mistake(ConvolutionMistake::one_side_padded), "out: ");
    check_mutant_fails(convolution_info, "(c, v, u) order inside a window: the kernel transposed",
                       mistake(ConvolutionMistake::u_v_swapped), "out: ");
    check_mutant_fails(convolution_info, "no bias", mistake(ConvolutionMistake::no_bias), "out: ");
    check_mutant_fails(convolution_info, "the right numbers, copied out of the graph",
                       with([](const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t k, int64_t s,
                               int64_t p) { return solution::convolution(images, weight, bias, k, s, p).clone(); }),
                       "out records no gradient");
}

// ---- 9. window_partition, 10. window_reverse ---------------------------------------------------------------

namespace {

// window_partition with the permutation `order` of (b, wy, ty, wx, tx, c); (0, 1, 3, 2, 4, 5) is right.
Tensor window_partition_with(const Tensor& x, int64_t M, const std::vector<int64_t>& order) {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    const Tensor grid = reshape(x, {B, H / M, M, W / M, M, C});
    return reshape(permute(grid, order), {B * (H / M) * (W / M), M * M, C});
}

}  // namespace

TEST_CASE("exercises: window_partition") {
    auto with = [](WindowPartition f) { return [f](Grader& g) { grade_window_partition(f, g); }; };
    check_solution_passes(window_partition_info, with(solution::window_partition));
    check_mutant_fails(window_partition_info, "reshape alone, no permute", with([](const Tensor& x, int64_t M) {
        return reshape(x, {x.numel() / (M * M * x.size(3)), M * M, x.size(3)});
    }));
    check_mutant_fails(window_partition_info, "windows numbered column by column", with([](const Tensor& x, int64_t M) {
        return window_partition_with(x, M, {0, 3, 1, 2, 4, 5});  // (b, wx, wy, ty, tx, c)
    }));
    check_mutant_fails(window_partition_info, "tokens transposed inside a window", with([](const Tensor& x, int64_t M) {
        return window_partition_with(x, M, {0, 1, 3, 4, 2, 5});  // (b, wy, wx, tx, ty, c)
    }));
    check_mutant_fails(window_partition_info, "the right numbers, copied out of the graph",
                       with([](const Tensor& x, int64_t M) { return solution::window_partition(x, M).clone(); }),
                       "windows records no gradient");
}

TEST_CASE("exercises: window_reverse") {
    auto with = [](WindowReverse f) { return [f](Grader& g) { grade_window_reverse(f, g); }; };
    // window_reverse with the window grid split as (a, b) and the permutation `order` of
    // (b, a, b', ty, tx, c); a = H/M, b' = W/M and (0, 1, 3, 2, 4, 5) is right.
    auto reverse_with = [](const Tensor& windows, int64_t M, int64_t H, int64_t W, bool swap_grid,
                           const std::vector<int64_t>& order) {
        const int64_t C = windows.size(2), B = windows.size(0) / ((H / M) * (W / M));
        const Tensor split = swap_grid ? reshape(windows, {B, W / M, H / M, M, M, C})
                                       : reshape(windows, {B, H / M, W / M, M, M, C});
        return reshape(permute(split, order), {B, H, W, C});
    };
    check_solution_passes(window_reverse_info, with(solution::window_reverse));
    check_mutant_fails(window_reverse_info, "reshape alone, no permute",
                       with([](const Tensor& windows, int64_t, int64_t H, int64_t W) {
                           return reshape(windows, {windows.numel() / (H * W * windows.size(2)), H, W, windows.size(2)});
                       }));
    check_mutant_fails(window_reverse_info, "H and W swapped in the window grid",
                       with([&](const Tensor& windows, int64_t M, int64_t H, int64_t W) {
                           return reverse_with(windows, M, H, W, true, {0, 1, 3, 2, 4, 5});
                       }));
    check_mutant_fails(window_reverse_info, "a window's rows read as its columns",
                       with([&](const Tensor& windows, int64_t M, int64_t H, int64_t W) {
                           return reverse_with(windows, M, H, W, false, {0, 1, 4, 2, 3, 5});
                       }));
    check_mutant_fails(window_reverse_info, "the right numbers, copied out of the graph",
                       with([](const Tensor& windows, int64_t M, int64_t H, int64_t W) {
                           return solution::window_reverse(windows, M, H, W).clone();
                       }),
                       "grid records no gradient");
}

// ---- 11. shifted_window_mask -------------------------------------------------------------------------------

namespace {

// The mask from bands whose middle edge is at n - edge (shift is right), with `masked` across regions;
// swap_axes labels rows by W's bands and columns by H's.
Tensor shifted_window_mask_with(int64_t H, int64_t W, int64_t M, int64_t edge, double masked, bool swap_axes) {
    const int64_t nW = (H / M) * (W / M), N = M * M;
    const auto band = [M, edge](int64_t i, int64_t n) -> int64_t { return i < n - M ? 0 : (i < n - edge ? 1 : 2); };
    Tensor mask = Tensor::zeros({nW, N, N});
    const auto label = [&](int64_t w, int64_t t) {
        const int64_t r = (w / (W / M)) * M + t / M, c = (w % (W / M)) * M + t % M;
        return swap_axes ? 3 * band(r, W) + band(c, H) : 3 * band(r, H) + band(c, W);
    };
    for (int64_t w = 0; w < nW; ++w)
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j)
                if (label(w, i) != label(w, j)) mask.data()[(w * N + i) * N + j] = masked;
    return mask;
}

}  // namespace

TEST_CASE("exercises: shifted_window_mask") {
    auto with = [](ShiftedWindowMask f) { return [f](Grader& g) { grade_shifted_window_mask(f, g); }; };
    check_solution_passes(shifted_window_mask_info, with(solution::shifted_window_mask));
    check_solution_passes(shifted_window_mask_info, with([](int64_t H, int64_t W, int64_t M, int64_t shift) {
        return shifted_window_mask_with(H, W, M, shift, -100, false);  // the knobs at their right values pass
    }));
    check_mutant_fails(shifted_window_mask_info, "+100 instead of -100", with([](int64_t H, int64_t W, int64_t M, int64_t s) {
        return shifted_window_mask_with(H, W, M, s, 100, false);
    }), "got 100, expected -100");
    check_mutant_fails(shifted_window_mask_info, "band edge at n - M + shift instead of n - shift",
                       with([](int64_t H, int64_t W, int64_t M, int64_t s) {
                           return shifted_window_mask_with(H, W, M, M - s, -100, false);
                       }));
    check_mutant_fails(shifted_window_mask_info, "rows labelled by W's bands, columns by H's",
                       with([](int64_t H, int64_t W, int64_t M, int64_t s) {
                           return shifted_window_mask_with(H, W, M, s, -100, true);
                       }));
    check_mutant_fails(shifted_window_mask_info, "the shift forgotten: all zeros", with([](int64_t H, int64_t W, int64_t M, int64_t) {
        return Tensor::zeros({(H / M) * (W / M), M * M, M * M});
    }));
}

// ---- 12. relative_position_index ---------------------------------------------------------------------------

namespace {

enum class IndexMistake { none, dy_dx_swapped, j_minus_i, stride_2M };

// index[i][j] = (dy + M - 1) * (2M - 1) + (dx + M - 1), with one planted mistake.

Tensor relative_position_index_with(int64_t M, IndexMistake mistake) {
    const int64_t N = M * M;
    const int64_t stride = mistake == IndexMistake::stride_2M ? 2 * M : 2 * M - 1;
    Tensor index = Tensor::empty({N, N});
    for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) {
            int64_t dy = i / M - j / M, dx = i % M - j % M;
            if (mistake == IndexMistake::j_minus_i) dy = -dy, dx = -dx;
            if (mistake == IndexMistake::dy_dx_swapped) std::swap(dy, dx);
            index.data()[i * N + j] = static_cast<Scalar>((dy + M - 1) * stride + (dx + M - 1));
        }
    return index;
}

}  // namespace

TEST_CASE("exercises: relative_position_index") {
    auto with = [](RelativePositionIndex f) { return [f](Grader& g) { grade_relative_position_index(f, g); }; };
    auto mistake = [&with](IndexMistake m) { return with([m](int64_t M) { return relative_position_index_with(M, m); }); };
    check_solution_passes(relative_position_index_info, with(solution::relative_position_index));
    check_solution_passes(relative_position_index_info, mistake(IndexMistake::none));
    check_mutant_fails(relative_position_index_info, "dy and dx swapped", mistake(IndexMistake::dy_dx_swapped));
    check_mutant_fails(relative_position_index_info, "the offset j - i (sign flip)", mistake(IndexMistake::j_minus_i));
    check_mutant_fails(relative_position_index_info, "rows of 2M, not 2M - 1", mistake(IndexMistake::stride_2M));
}

// ---- 13. adamw_step ----------------------------------------------------------------------------------------

namespace {

enum class AdamWMistake { none, no_bias_correction, l2_decay, decay_after_update, eps_inside_sqrt };

// AdamW's step (optim/adam.h), with one planted mistake.

void adamw_step_with(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, int64_t t, const AdamWSettings& s,
                     bool decay, AdamWMistake mistake) {
    const bool corrected = mistake != AdamWMistake::no_bias_correction;
    const double bias1 = corrected ? 1 - std::pow(s.beta1, static_cast<double>(t)) : 1;
    const double bias2 = corrected ? 1 - std::pow(s.beta2, static_cast<double>(t)) : 1;
    for (int64_t j = 0; j < param.numel(); ++j) {
        Scalar& p = param.data()[j];
        double g = grad.data()[j];
        if (decay && mistake == AdamWMistake::l2_decay) g += s.weight_decay * p;  // Adam's L2, not AdamW's
        if (decay && (mistake == AdamWMistake::none || mistake == AdamWMistake::no_bias_correction ||
                      mistake == AdamWMistake::eps_inside_sqrt))
            p -= s.lr * s.weight_decay * p;
        m.data()[j] = s.beta1 * m.data()[j] + (1 - s.beta1) * g;
        v.data()[j] = s.beta2 * v.data()[j] + (1 - s.beta2) * g * g;
        const double m_hat = m.data()[j] / bias1, v_hat = v.data()[j] / bias2;
        p -= s.lr * m_hat /
             (mistake == AdamWMistake::eps_inside_sqrt ? std::sqrt(v_hat + s.eps) : std::sqrt(v_hat) + s.eps);
        if (decay && mistake == AdamWMistake::decay_after_update) p -= s.lr * s.weight_decay * p;
    }
}

}  // namespace

TEST_CASE("exercises: adamw_step") {
    auto with = [](AdamWDecays decays, AdamWStep step) {
        return [decays, step](Grader& g) { grade_adamw_step(decays, step, g); };
    };
    auto step_with = [&with](AdamWMistake m) {
        return with(solution::adamw_decays, [m](Tensor& p, const Tensor& g, Tensor& mm, Tensor& v, int64_t t,
                                                const AdamWSettings& s, bool decay) {
            adamw_step_with(p, g, mm, v, t, s, decay, m);
        });
    };
    check_solution_passes(adamw_step_info, with(solution::adamw_decays, solution::adamw_step));
    check_solution_passes(adamw_step_info, step_with(AdamWMistake::none));
    check_mutant_fails(adamw_step_info, "biases and norms decay too (the name rules only)",
                       with([](const std::string& name, const Tensor& p) {
                           return solution::adamw_decays(name, p.dim() < 2 ? Tensor::zeros({1, 1}) : p);
                       }, solution::adamw_step),
                       "adamw_decays(\"patch_embed.proj.bias\"");
    check_mutant_fails(adamw_step_info, "the shape rule only (cls_token, pos_embed, the table decay)",
                       with([](const std::string&, const Tensor& p) { return p.dim() >= 2; }, solution::adamw_step),
                       "adamw_decays(\"cls_token\"");
    check_mutant_fails(adamw_step_info, "every parameter decays, whatever `decay` says",
                       with(solution::adamw_decays, [](Tensor& p, const Tensor& g, Tensor& m, Tensor& v, int64_t t,
                                                       const AdamWSettings& s, bool) {
                           solution::adamw_step(p, g, m, v, t, s, true);
                       }),
                       "param: ");
    check_mutant_fails(adamw_step_info, "no bias correction", step_with(AdamWMistake::no_bias_correction),
                       "param: ");
    check_mutant_fails(adamw_step_info, "Adam's L2 decay through the gradient", step_with(AdamWMistake::l2_decay),
                       "exp_avg (m): ");
    check_mutant_fails(adamw_step_info, "decay after the Adam update", step_with(AdamWMistake::decay_after_update),
                       "param: ");
    check_mutant_fails(adamw_step_info, "eps inside the square root", step_with(AdamWMistake::eps_inside_sqrt),
                       "param: ");
}
