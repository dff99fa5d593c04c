// Pitfalls of popular ViT and Swin tutorials, each shown twice: the tutorial's version, built here from
// patchgrad's primitive ops, and patchgrad's own, with assertions on exactly how the two differ.
// docs/pitfalls.md explains each one and points at the test case that proves it.
//
// Legend: B batch, N patches, T tokens, C or D channels, h w a patch grid, H W a token grid, P patch size,
// M window size, s shift, K classes.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "nn/embedding.h"
#include "nn/swin.h"
#include "nn/window.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

Tensor iota(const Shape& shape) { return Tensor::from_vector(Tensor::arange(numel_of(shape)).to_vector(), shape); }


// The loss of each pitfall's gradient comparisons: sum(out * probe), never a plain sum (tests/helpers.h).
Tensor probed(const Tensor& out, uint64_t seed) { return sum(out * random_tensor(out.shape(), seed, false)); }

}  // namespace

// ---- (a) a (1, D, h, w) grid encoding added to a (B, 1+N, D) sequence -----------------------------------

TEST_CASE("pitfall (a): a (1, D, h, w) position grid does not fit a (B, 1+N, D) sequence; the CLS row") {
    const int64_t B = 2, h = 2, w = 2, N = h * w, D = 8;
    Rng rng(1);
    PositionEmbedding pos(PositionEmbeddingKind::sincos_2d, h, w, D, /*cls_token=*/true, rng);
    const Tensor tokens = random_tensor({B, 1 + N, D}, 2, false);
    // The tutorial's grid: the same sin-cos numbers, channel-first like a feature map, (1, D, h, w).
    const Tensor grid = permute(reshape(sincos_2d_table(h, w, D), {1, h, w, D}), {0, 3, 1, 2});
    REQUIRE(grid.shape() == Shape{1, D, h, w});

    // 1. Added as it is: the shapes do not broadcast, and the message shows both.
    const std::string message = thrown_message([&] { add(tokens, grid); });
    CHECK(contains(message, "add: shapes (2, 5, 8) and (1, 8, 2, 2) cannot broadcast"));

    // 2. Reshaped to fit (1, N, D): token n receives flat numbers n*D .. n*D + D-1 of the channel-first
    //    grid, i.e. channels 2n and 2n+1 of all four positions, not the D channels of position n.
    const Tensor reshaped = reshape(grid, {1, N, D});
    const Tensor flattened = reshape(permute(grid, {0, 2, 3, 1}), {1, N, D});  // the right flattening
    const auto at = [&](int64_t d, int64_t r, int64_t c) { return grid.data()[(d * h + r) * w + c]; };
    for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d) {
            const int64_t flat = n * D + d;  // what the reshape reads: channel flat / N, position flat % N
            CHECK(reshaped.data()[n * D + d] == at(flat / N, flat % N / w, flat % w));
            CHECK(flattened.data()[n * D + d] == at(d, n / w, n % w));
        }
    CHECK(max_abs_difference(reshaped, flattened) > 0.5);
    // ... and even the right (1, N, D) has no row for the CLS token: it still does not fit 1 + N tokens.
    CHECK(contains(thrown_message([&] { add(tokens, flattened); }), "(2, 5, 8) and (1, 4, 8) cannot broadcast"));

    // 3. patchgrad: the table is (1, 1+N, D) from the start; the CLS token, which has no place on the grid,
    //    gets a zero row, and the grid rows are the permuted flattening, in patch order.
    const Tensor table = pos.table();
    REQUIRE(table.shape() == Shape{1, 1 + N, D});
    check_close(table, concat({Tensor::zeros({1, 1, D}), flattened}, 1), 0);
    check_close(pos.forward(tokens), tokens + table, 0);
    // A sequence that forgot its CLS token is refused, naming the expected shape.
    const std::string refused = thrown_message([&] { pos.forward(random_tensor({B, N, D}, 3, false)); });
    CHECK(contains(refused, "tokens (2, 4, 8), expected (B, 5, 8) (4 patches + 1 CLS token)"));

    // learned_2d: row[r] + col[c] for the grid, and again a zero (untrained) CLS row.
    PositionEmbedding learned_2d(PositionEmbeddingKind::learned_2d, h, w, D, true, rng);
    const Tensor table_2d = learned_2d.table();
    for (int64_t d = 0; d < D; ++d) {
        CHECK(table_2d.data()[d] == 0);
        const int64_t r = 1, c = 0, n = 1 + r * w + c;  // patch (1, 0) is token 3
        const Scalar row = learned_2d.row_embed.data()[r * D + d], col = learned_2d.col_embed.data()[c * D + d];
        CHECK(table_2d.data()[n * D + d] == row + col);
    }
    // learned_1d (timm's default): the CLS token has its own learned row 0, and it is trained.
    PositionEmbedding learned_1d(PositionEmbeddingKind::learned_1d, h, w, D, true, rng);
    probed(learned_1d.forward(tokens), 4).backward();
    const std::vector<Scalar> cls_grad(learned_1d.pos_embed.grad().data(), learned_1d.pos_embed.grad().data() + D);
    CHECK(norm(Tensor::from_vector(cls_grad, {D})) > 0.1);
    CHECK(learned_1d.pos_embed.data()[0] != 0);
}

// ---- (b) the Swin shift as a roll of the flattened sequence --------------------------------------------

TEST_CASE("pitfall (b): cyclic_shift is a 2D roll; a roll of the flattened sequence reads the wrong rows") {
    struct Case {
        int64_t H, W, s;
    };
    for (const Case& grid_case : {Case{4, 4, 1}, Case{4, 6, 2}, Case{8, 8, 2}}) {
        const int64_t H = grid_case.H, W = grid_case.W, s = grid_case.s;
        CAPTURE(H);
        CAPTURE(W);
        CAPTURE(s);
        const Tensor grid = iota({1, H, W, 1});  // token (r, c) holds the value r*W + c
        const Tensor shifted = cyclic_shift(grid, s);
        const auto value = [&](const Tensor& t, int64_t r, int64_t c) { return int64_t(t.data()[r * W + c]); };
        // Token (r, c) moves to ((r - s) mod H, (c - s) mod W): the 2D roll.
        for (int64_t r = 0; r < H; ++r)
            for (int64_t c = 0; c < W; ++c) CHECK(value(shifted, (r - s + H) % H, (c - s + W) % W) == r * W + c);
        check_close(reverse_cyclic_shift(shifted, s), grid, 0);

        // The tutorial: roll the (1, H*W, 1) sequence by -(s*W + s), the 1D roll that comes closest.
        const Tensor flat = reshape(roll(reshape(grid, {1, H * W, 1}), {-(s * W + s)}, {1}), {1, H, W, 1});
        int64_t wrong = 0;
        for (int64_t r = 0; r < H; ++r)
            for (int64_t c = 0; c < W; ++c) {
                if (c < W - s) {
                    CHECK(value(flat, r, c) == value(shifted, r, c));  // agrees away from the right edge
                } else {
                    // the last s columns read one row too far down: (r + s + 1, c + s - W), not (r + s, ...)
                    CHECK(value(flat, r, c) == ((r + s + 1) % H) * W + (c + s - W));
                    CHECK(value(shifted, r, c) == ((r + s) % H) * W + (c + s - W));
                    ++wrong;
                }
            }
        CHECK(wrong == H * s);
    }
    // The 4x4, shift 1 case by hand: position (0, 3) holds token (1, 0) = 4; the flattened roll gives 8 = (2, 0).
    const Tensor grid = iota({1, 4, 4, 1});
    CHECK(cyclic_shift(grid, 1).data()[3] == 4);
    CHECK(roll(reshape(grid, {1, 16, 1}), {-5}, {1}).data()[3] == 8);
}

TEST_CASE("pitfall (b): the drawing's shift by one position of the sequence is not the 2D roll by M/2") {
    // The tutorials draw the cyclic shift as the row of tokens moved along by one place. Taken literally,
    // that is roll(sequence, +-1): compare the windows it makes with Swin's roll by M/2 over (H, W).
    const int64_t H = 8, W = 8, M = 4, s = M / 2, N = M * M, nW = (H / M) * (W / M);
    const Tensor grid = iota({1, H, W, 1});  // token (r, c) holds its index r*W + c
    const auto old_window = [&](int64_t index) { return (index / W / M) * (W / M) + index % W / M; };
    // For each window of a rolled grid, how many of its N tokens come from each window of the unshifted one.
    const auto origins = [&](const Tensor& rolled) {
        const Tensor windows = window_partition(rolled, M);  // (nW, N, 1)
        std::vector<std::vector<int64_t>> count(nW, std::vector<int64_t>(nW, 0));
        for (int64_t w = 0; w < nW; ++w)
            for (int64_t t = 0; t < N; ++t) ++count[w][old_window(int64_t(windows.data()[w * N + t]))];
        return count;
    };
    // Of the W pairs of image neighbours (3, c) and (4, c), one above the other across the horizontal window
    // border, how many share a window of the rolled grid (and may attend to each other).
    const auto vertical_pairs_together = [&](const Tensor& rolled) {
        const Tensor windows = window_partition(rolled, M);
        std::vector<int64_t> window_of(H * W);
        for (int64_t k = 0; k < nW * N; ++k) window_of[int64_t(windows.data()[k])] = k / N;
        int64_t together = 0;
        for (int64_t c = 0; c < W; ++c) together += window_of[3 * W + c] == window_of[4 * W + c];
        return together;
    };
    CHECK(vertical_pairs_together(grid) == 0);  // unshifted: the border separates all of them

    // Swin's shift: every new window straddles four old ones, (M/2)^2 = 4 tokens from each, and the
    // horizontal border is crossed by all 8 pairs.
    const Tensor swin = cyclic_shift(grid, s);
    for (const std::vector<int64_t>& count : origins(swin))
        CHECK(count == std::vector<int64_t>{4, 4, 4, 4});
    CHECK(vertical_pairs_together(swin) == W);

    // The drawing, in either direction: each window keeps 12 of its 16 tokens from one old window (the
    // windows slid one column), and only 1 of the 8 pairs across the horizontal border meets, by the
    // wrap-around from one row's end to the next row's start.
    for (const int64_t step : {-1, 1}) {
        CAPTURE(step);
        const Tensor drawn = reshape(roll(reshape(grid, {1, H * W, 1}), {step}, {1}), {1, H, W, 1});
        for (const std::vector<int64_t>& count : origins(drawn))
            CHECK(*std::max_element(count.begin(), count.end()) == 12);
        CHECK(vertical_pairs_together(drawn) == 1);
        // By hand, step -1: position (0, 0) holds token 1; Swin's shift puts token (2, 2) = 18 there.
        if (step == -1) CHECK(drawn.data()[0] == 1);
    }
    CHECK(swin.data()[0] == 18);
}

// ---- (c) softmax at the end of the model, then cross_entropy ------------------------------------------

TEST_CASE("pitfall (c): softmax then cross_entropy: a different loss, vanishing gradients, a floor above 0") {
    const int64_t N = 4, K = 10;
    const Tensor targets = Tensor::from_vector({3, 0, 7, 9}, {N});
    // The model's logits; the correct loss takes them as they are, the tutorial's softmax-es them first.
    const auto both = [&](const Tensor& values) {
        Tensor right_logits = values.clone().requires_grad_(), wrong_logits = values.clone().requires_grad_();
        Tensor right = cross_entropy(right_logits, targets), wrong = cross_entropy(softmax(wrong_logits, -1), targets);
        right.backward();
        wrong.backward();
        return std::array<Tensor, 4>{right, wrong, right_logits.grad(), wrong_logits.grad()};
    };
    Rng rng(5);
    const auto [right, wrong, right_grad, wrong_grad] = both(Tensor::normal({N, K}, 0, 2, rng));
    CHECK(wrong.item() < right.item() - 0.5);  // measured: 2.214 against 2.886, it even looks better
    CHECK(max_abs_difference(right_grad, wrong_grad) > 0.05);
    CHECK(norm(wrong_grad) < 0.2 * norm(right_grad));  // measured: 0.064 against 0.490

    // Confidently wrong (target logit -10, another class +10): the right gradient is (p - onehot)/N, each
    // row of length ~sqrt(2)/N, all N rows together sqrt(N * 2/N^2) = sqrt(2N)/N; the tutorial's passes
    // through a saturated softmax, whose Jacobian entries p_j p_k are ~e^-10 = 4.5e-5 (the other classes'
    // probability): the model cannot learn its way out.
    Tensor confident = Tensor::zeros({N, K});
    for (int64_t n = 0; n < N; ++n) {
        const int64_t t = int64_t(targets.data()[n]);
        confident.data()[n * K + t] = -10;
        confident.data()[n * K + (t + 1) % K] = 10;
    }
    const auto [right_c, wrong_c, right_grad_c, wrong_grad_c] = both(confident);
    CHECK(std::abs(norm(right_grad_c) - std::sqrt(2.0 * N) / N) < 1e-3);
    CHECK(norm(wrong_grad_c) < 1e-4 * norm(right_grad_c));
    CHECK(right_c.item() > 19.9);  // -log e^-20: very wrong, and the right loss says so
    CHECK(std::abs(wrong_c.item() - std::log(std::exp(1.0) + K - 1)) < 1e-3);  // the ceiling, log(e + 9) = 2.46

    // The floor. Softmax outputs lie in [0, 1], so the best the second log-softmax can see is p = onehot:
    //   loss >= -log(e^1 / (e^1 + (K - 1) e^0)) = log(e + K - 1) - 1 = log(11.71828) - 1 = 1.46115 for K = 10,
    // while a perfect model has loss 0. Logits 100 * onehot(target) are (numerically) perfect:
    const double floor = std::log(std::exp(1.0) + K - 1) - 1;
    CHECK(std::abs(floor - 1.4611502) < 1e-6);
    Tensor perfect = Tensor::zeros({N, K});
    for (int64_t n = 0; n < N; ++n) perfect.data()[n * K + int64_t(targets.data()[n])] = 100;
    const auto [right_p, wrong_p, unused_1, unused_2] = both(perfect);
    CHECK(right_p.item() < 1e-40);
    CHECK(std::abs(wrong_p.item() - floor) < 1e-12);
    // ... and no logits get below it.
    for (uint64_t seed = 10; seed < 15; ++seed) {
        Rng draw(seed);
        CHECK(cross_entropy(softmax(Tensor::normal({N, K}, 0, 10, draw), -1), targets).item() >= floor - 1e-12);
    }
}

// ---- (d) LayerNorm over (tokens, channels) -------------------------------------------------------------

TEST_CASE("pitfall (d): LayerNorm over (T, C) leaves tokens unnormalised and couples them") {
    const int64_t B = 2, T = 3, C = 4;
    const Scalar eps = 1e-5;
    // Tokens with different offsets and spreads: token t is uniform in [-1, 1] times (t + 1), plus 3t.
    Tensor x = random_tensor({B, T, C}, 6, false);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = x.data()[i] * Scalar(i / C % T + 1) + Scalar(3 * (i / C % T));
    x.requires_grad_();
    const Tensor right = layer_norm(x, Tensor::ones({C}), Tensor::zeros({C}), eps);  // each token over its C
    // The tutorial: nn.LayerNorm([T, C]), one mean and variance for all T*C numbers of a sequence.
    const Tensor wrong = reshape(layer_norm(reshape(x, {B, T * C}), Tensor::ones({T * C}), Tensor::zeros({T * C}), eps),
                                 {B, T, C});

    const auto token_stats = [&](const Tensor& y, int64_t b, int64_t t) {
        double mean_value = 0, variance = 0;
        for (int64_t c = 0; c < C; ++c) mean_value += y.data()[(b * T + t) * C + c] / double(C);
        for (int64_t c = 0; c < C; ++c) variance += std::pow(y.data()[(b * T + t) * C + c] - mean_value, 2) / C;
        return std::array<double, 2>{mean_value, variance};
    };
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t t = 0; t < T; ++t) {
            const auto [mean_right, var_right] = token_stats(right, b, t);
            CHECK(std::abs(mean_right) < 1e-12);
            CHECK(std::abs(var_right - 1) < 1e-4);  // var / (var + eps): within eps of 1
        }
        // The wrong version normalised the sequence, so the token offsets survive: the first token's mean is
        // well below 0, the last one's well above, and the spreads differ.
        CHECK(token_stats(wrong, b, 0)[0] < -0.8);
        CHECK(token_stats(wrong, b, T - 1)[0] > 0.8);
        CHECK(token_stats(wrong, b, 0)[1] < 0.2);
    }

    // Coupling: the gradient of token 0's output with respect to token 1's input.
    const auto grad_of_token_0 = [&](const Tensor& y) {
        x.zero_grad();
        probed(slice(slice(y, 0, 0, 1), 1, 0, 1), 7).backward();  // only out[0, 0, :] enters the loss
        return x.grad();
    };
    const Tensor right_grad = grad_of_token_0(right);
    const Tensor wrong_grad = grad_of_token_0(wrong);
    for (int64_t c = 0; c < C; ++c) {
        CHECK(right_grad.data()[1 * C + c] == 0);  // token 1 of image 0: exactly no influence
        CHECK(wrong_grad.data()[2 * C + c] != 0);  // token 2 of image 0 moves token 0's output
    }
    CHECK(norm(slice(slice(wrong_grad, 0, 0, 1), 1, 1, 3)) > 1e-2);
    CHECK(norm(slice(right_grad, 1, 1, 3)) == 0);
    CHECK(norm(slice(right_grad, 1, 0, 1)) > 0.1);  // token 0 itself does reach its output
}

// ---- (e) attention without 1 / sqrt(D) -------------------------------------------------------------------

TEST_CASE("pitfall (e): attention without 1/sqrt(d) saturates the softmax; with it, it stays soft") {
    const int64_t T = 32, D = 64;
    Rng rng(8);
    const Tensor q = Tensor::normal({1, 1, T, D}, 0, 1, rng), k = Tensor::normal({1, 1, T, D}, 0, 1, rng);
    const Tensor v = Tensor::normal({1, 1, T, D}, 0, 1, rng);
    struct Stats {
        double max_probability = 0, entropy = 0;  // means over the T query rows
        int64_t saturated_rows = 0;               // rows whose largest probability is above 0.99
        std::vector<double> row_gradient;         // (T): |dS[i, :]|, the gradient reaching row i's scores
        double largest_saturated_gradient = 0;
    };
    const auto stats_for = [&](Scalar scale) {
        Stats stats;
        Tensor P;
        scaled_dot_product_attention(q, k, v, Tensor(), scale, &P);  // P (1, 1, T, T)
        // The gradient that reaches the scores S = q k^T * scale through the softmax (same probe for both).
        Tensor scores = (matmul(q, transpose(k, -2, -1)) * scale).detach().requires_grad_();
        probed(softmax(scores, -1), 9).backward();
        check_close(P, softmax(scores.detach(), -1), 1e-12);  // the op is softmax(q k^T * scale)
        for (int64_t i = 0; i < T; ++i) {
            double largest = 0, squares = 0;
            for (int64_t j = 0; j < T; ++j) {
                const double p = P.data()[i * T + j];
                largest = std::max(largest, p);
                if (p > 0) stats.entropy -= p * std::log(p) / T;
                squares += std::pow(scores.grad().data()[i * T + j], 2);
            }
            stats.max_probability += largest / T;
            stats.row_gradient.push_back(std::sqrt(squares));
            if (largest > 0.99) {
                ++stats.saturated_rows;
                stats.largest_saturated_gradient = std::max(stats.largest_saturated_gradient, std::sqrt(squares));
            }
        }
        std::sort(stats.row_gradient.begin(), stats.row_gradient.end());
        return stats;
    };
    const Stats scaled = stats_for(Scalar(1 / std::sqrt(double(D)))), unscaled = stats_for(1);
    INFO("scaled: max p ", scaled.max_probability, ", entropy ", scaled.entropy, ", median row |dS| ",
         scaled.row_gradient[T / 2], ", smallest ", scaled.row_gradient[0], "; unscaled: max p ",
         unscaled.max_probability, ", entropy ", unscaled.entropy, ", median row |dS| ",
         unscaled.row_gradient[T / 2], ", ", unscaled.saturated_rows, " saturated rows, their largest |dS| ",
         unscaled.largest_saturated_gradient);
    // Scaled: scores of std 1, soft rows (uniform would be max p 1/32 and entropy log 32 = 3.47).
    CHECK(scaled.max_probability < 0.25);
    CHECK(scaled.entropy > 2.5);
    CHECK(scaled.saturated_rows == 0);
    // Unscaled: scores of std sqrt(64) = 8, nearly one-hot rows (measured: max p 0.85, entropy 0.41).
    CHECK(unscaled.max_probability > 0.8);
    CHECK(unscaled.entropy < 0.5);
    // A quarter of the rows are saturated, and those pass back less than a tenth of the gradient of ANY
    // scaled row; the median row gets less than half the scaled median.
    CHECK(unscaled.saturated_rows >= T / 4);
    CHECK(unscaled.largest_saturated_gradient < 0.1 * scaled.row_gradient[0]);
    CHECK(unscaled.row_gradient[T / 2] < 0.5 * scaled.row_gradient[T / 2]);
}

// ---- (f) patchify by reshape alone -----------------------------------------------------------------------

TEST_CASE("pitfall (f): patchify by reshape alone takes strips of rows; patchify + Linear is the stride-P conv") {
    const int64_t C = 2, S = 4, P = 2, N = 4, D = 3;
    const Tensor images = iota({1, C, S, S});  // pixel (c, y, x) holds c*16 + y*4 + x
    // Correct: patch 0 is the top-left 2x2 square of each channel, (C, P, P) order.
    check_values(slice(patchify(images, P), 1, 0, 1), {1, 1, C * P * P}, {0, 1, 4, 5, 16, 17, 20, 21}, 0);
    // The tutorial's reshape: "patch 0" is rows 0 and 1 of channel 0, which spans patches 0 and 1, and
    // channel 1 is not in it at all; channel 1's pixels show up in "patches" 2 and 3.
    const Tensor strips = reshape(images, {1, N, C * P * P});
    check_values(slice(strips, 1, 0, 1), {1, 1, C * P * P}, {0, 1, 2, 3, 4, 5, 6, 7}, 0);
    check_values(slice(strips, 1, 2, 3), {1, 1, C * P * P}, {16, 17, 18, 19, 20, 21, 22, 23}, 0);

    // PatchEmbedding (patchify, then one Linear) is the stride-P PxP convolution, written here as loops;
    // the same Linear after the reshape is not.
    Rng rng(11);
    PatchEmbedding embed(C, P, D, S, rng);
    const Tensor pixels = random_tensor({1, C, S, S}, 12, false);
    const Tensor weight = reshape(embed.proj.weight, {D, C * P * P});
    const Tensor right = embed.forward(pixels);
    const Tensor wrong = linear(reshape(pixels, {1, N, C * P * P}), weight, embed.proj.bias);
    const int64_t g = S / P;
    for (int64_t d = 0; d < D; ++d)
        for (int64_t i = 0; i < g; ++i)
            for (int64_t j = 0; j < g; ++j) {
                double conv = embed.proj.bias.data()[d];
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t u = 0; u < P; ++u)
                        for (int64_t v = 0; v < P; ++v)
                            conv += embed.proj.weight.data()[((d * C + c) * P + u) * P + v] *
                                    pixels.data()[(c * S + i * P + u) * S + j * P + v];
                CHECK(std::abs(right.data()[(i * g + j) * D + d] - conv) < 1e-12);
            }
    CHECK(max_abs_difference(right, wrong) > 1e-3);
    // Even patch 0 differs: the same weights meet other pixels.
    CHECK(max_abs_difference(slice(right, 1, 0, 1), slice(wrong, 1, 0, 1)) > 1e-3);
}

// ---- (g) a shifted-window block without its mask ---------------------------------------------------------

namespace {

// SwinBlock::forward (nn/swin.cpp) written out with the block's own layers, with the mask as an argument:
// the real mask reproduces the block, an undefined one is the tutorial's block.
Tensor shifted_block(const SwinBlock& block, const Tensor& x, int64_t H, int64_t W, const Tensor& mask, Rng& rng) {
    const int64_t B = x.size(0), C = x.size(2), M = block.window_size(), s = block.shift();
    Tensor grid = cyclic_shift(reshape(block.norm1.forward(x), {B, H, W, C}), s);      // (B, H, W, C)
    Tensor windows = block.attn.forward(window_partition(grid, M), rng, mask);         // (B*nW, N, C)
    grid = reverse_cyclic_shift(window_reverse(windows, M, H, W), s);                  // (B, H, W, C)
    Tensor h = x + reshape(grid, {B, H * W, C});                                       // (B, H*W, C)
    return h + block.mlp.forward(block.norm2.forward(h), rng);
}

}  // namespace

TEST_CASE("pitfall (g): without the shifted-window mask a border token attends across the wrap-around") {
    const int64_t H = 8, W = 8, M = 4, s = 2, C = 8, N = M * M;
    // Which pairs are blocked. Window 1 of the shifted grid is its rows 0..3, columns 4..7; shifted column
    // 4 + tx is image column (4 + tx + s) mod 8 = 6, 7, 0, 1: two image columns from the right edge, two
    // from the left edge, next to each other only because of the wrap-around.
    const Tensor mask = shifted_window_mask(H, W, M, s);  // (nW, N, N)
    REQUIRE(mask.shape() == Shape{4, N, N});
    int64_t open = 0;
    for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) {
            const bool same_edge = (i % M < 2) == (j % M < 2);
            CHECK(mask.data()[(1 * N + i) * N + j] == (same_edge ? 0 : -100));
            open += same_edge;
        }
    CHECK(open == 128);
    // Image (2, 7) is shifted (0, 5), token 1 of window 1; image (2, 0) is shifted (0, 6), token 2.
    CHECK(mask.data()[(1 * N + 1) * N + 2] == -100);  // right edge, left edge: blocked
    CHECK(mask.data()[(1 * N + 1) * N + 0] == 0);     // (2, 7) and (2, 6), image neighbours: open
    CHECK(mask.data()[(1 * N + 2) * N + 3] == 0);     // (2, 0) and (2, 1): open
    CHECK(mask.data()[(0 * N + 1) * N + 2] == 0);     // window 0 wrapped nothing: all open

    Rng rng(13);
    SwinBlock block(C, 2, H, W, M, s, 2.0, 1e-5, 0.0, rng);
    REQUIRE(block.shift() == s);
    // Sharper attention than at initialisation (std 0.02), so that effects are well above rounding.
    for (int64_t i = 0; i < block.attn.qkv.weight.numel(); ++i) block.attn.qkv.weight.data()[i] *= 20;
    const Tensor x = random_tensor({1, H * W, C}, 14, false);
    check_close(shifted_block(block, x, H, W, mask, rng), block.forward(x, rng), 1e-12);  // the replica is faithful

    const int64_t border = 2 * W + 7, far_side = 2 * W + 0, neighbour = 2 * W + 6;  // image (2,7), (2,0), (2,6)
    const auto change_of_border = [&](int64_t changed_token, const Tensor& block_mask) {
        Tensor moved = x.clone();
        for (int64_t c = 0; c < C; ++c) moved.data()[changed_token * C + c] += Scalar(c % 2 ? 1.5 : -1.0);
        const Tensor before = shifted_block(block, x, H, W, block_mask, rng);
        const Tensor after = shifted_block(block, moved, H, W, block_mask, rng);
        return max_abs_difference(slice(before, 1, border, border + 1), slice(after, 1, border, border + 1));
    };
    const double masked = change_of_border(far_side, mask), unmasked = change_of_border(far_side, Tensor());
    INFO("change of image (2, 7)'s output when image (2, 0) changes: with the mask ", masked, ", without ",
         unmasked);
    CHECK(masked < 1e-30);    // e^-100 ~ 4e-44 of a weight: nothing, in float64
    CHECK(unmasked > 1e-3);   // the tutorial's block: the left edge leaks into the right edge
    // Image neighbours talk in both versions.
    CHECK(change_of_border(neighbour, mask) > 1e-3);
    CHECK(change_of_border(neighbour, Tensor()) > 1e-3);
}
