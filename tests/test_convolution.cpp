// Convolution, the textbook way (docs/convolution.md): a direct loop with any stride and padding, its
// backward as loops, checked by hand and by central differences; the output-size formula against a count
// of the window positions; PatchEmbedding (nn/embedding.cpp) against the loop at kernel = stride = P;
// unfold + linear (im2col) against the loop at other strides and paddings; and the ViT's conv stem against
// loops, and by central differences.
//
// Legend: B batch, C input channels, D output channels, Hi Wi input size, K kernel size, S stride,
// p padding, Ho Wo output size, P patch size, N = (Hi/P)(Wi/P) patches.
#include <cmath>
#include <memory>
#include <vector>

#include "nn/embedding.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// out = floor((in + 2p - K) / S) + 1: the number of window starts -p, -p + S, -p + 2S, ... that keep the
// whole window inside the padded input, i.e. start + K <= in + p.
int64_t conv_output_size(int64_t in, int64_t K, int64_t S, int64_t p) { return (in + 2 * p - K) / S + 1; }

// The same number, counted: slide the window and count the positions where it fits.
int64_t count_window_positions(int64_t in, int64_t K, int64_t S, int64_t p) {
    int64_t count = 0;
    for (int64_t start = -p; start + K <= in + p; start += S) ++count;
    return count;
}

// conv2d as PyTorch's nn.Conv2d computes it (a cross-correlation: the kernel is not flipped):
//   x (B, C, Hi, Wi)  weight (D, C, K, K)  bias (D)  ->  (B, D, Ho, Wo)
//   out[b, d, oy, ox] = bias[d] + sum_{c, ky, kx} weight[d, c, ky, kx] * x[b, c, oy*S + ky - p, ox*S + kx - p]
// where x is 0 outside the image (the padding). `multiply_adds`, if not null, counts the innermost steps.
Tensor conv2d_loops(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t S, int64_t p,
                    int64_t* multiply_adds = nullptr) {
    const int64_t B = x.size(0), C = x.size(1), Hi = x.size(2), Wi = x.size(3);
    const int64_t D = weight.size(0), K = weight.size(2);
    const int64_t Ho = conv_output_size(Hi, K, S, p), Wo = conv_output_size(Wi, K, S, p);
    Tensor out = Tensor::empty({B, D, Ho, Wo});
    for (int64_t b = 0; b < B; ++b)
        for (int64_t d = 0; d < D; ++d)
            for (int64_t oy = 0; oy < Ho; ++oy)
                for (int64_t ox = 0; ox < Wo; ++ox) {
                    double total = bias.data()[d];
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t ky = 0; ky < K; ++ky)
                            for (int64_t kx = 0; kx < K; ++kx) {
                                const int64_t y = oy * S + ky - p, xx = ox * S + kx - p;  // the input pixel
                                const bool inside = y >= 0 && y < Hi && xx >= 0 && xx < Wi;
                                const double pixel = inside ? x.data()[((b * C + c) * Hi + y) * Wi + xx] : 0.0;
                                total += weight.data()[((d * C + c) * K + ky) * K + kx] * pixel;
                                if (multiply_adds) ++*multiply_adds;
                            }
                    out.data()[((b * D + d) * Ho + oy) * Wo + ox] = Scalar(total);
                }
    return out;
}

struct ConvGradients {
    Tensor x, weight, bias;
};

// The backward of conv2d_loops, restating its forward line: every product weight * pixel that made
// out[b, d, oy, ox] sends dout[b, d, oy, ox] back to both factors,
//   dx[b, c, y, xx]          += dout[b, d, oy, ox] * weight[d, c, ky, kx]     (pixels inside the image)
//   dweight[d, c, ky, kx]    += dout[b, d, oy, ox] * x[b, c, y, xx]
//   dbias[d]                 += dout[b, d, oy, ox]
ConvGradients conv2d_backward_loops(const Tensor& x, const Tensor& weight, const Tensor& dout, int64_t S,
                                    int64_t p) {
    const int64_t B = x.size(0), C = x.size(1), Hi = x.size(2), Wi = x.size(3);
    const int64_t D = weight.size(0), K = weight.size(2), Ho = dout.size(2), Wo = dout.size(3);
    ConvGradients grad{Tensor::zeros(x.shape()), Tensor::zeros(weight.shape()), Tensor::zeros({D})};
    for (int64_t b = 0; b < B; ++b)
        for (int64_t d = 0; d < D; ++d)
            for (int64_t oy = 0; oy < Ho; ++oy)
                for (int64_t ox = 0; ox < Wo; ++ox) {
                    const Scalar g = dout.data()[((b * D + d) * Ho + oy) * Wo + ox];
                    grad.bias.data()[d] += g;
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t ky = 0; ky < K; ++ky)
                            for (int64_t kx = 0; kx < K; ++kx) {
                                const int64_t y = oy * S + ky - p, xx = ox * S + kx - p;
                                if (y < 0 || y >= Hi || xx < 0 || xx >= Wi) continue;  // padding: no input
                                const int64_t xi = ((b * C + c) * Hi + y) * Wi + xx;
                                const int64_t wi = ((d * C + c) * K + ky) * K + kx;
                                grad.x.data()[xi] += g * weight.data()[wi];
                                grad.weight.data()[wi] += g * x.data()[xi];
                            }
                }
    return grad;
}

Tensor iota(const Shape& shape) { return Tensor::from_vector(Tensor::arange(numel_of(shape)).to_vector(), shape); }

}  // namespace

TEST_CASE("conv2d loops: a 4x4 image, a 3x3 kernel, stride 2, padding 1, by hand") {
    // The image x[y][x] = 4y + x, padded with one ring of zeros:
    //      0  0  0  0  0  0
    //      0  0  1  2  3  0          out = floor((4 + 2*1 - 3) / 2) + 1 = 2 per side
    //      0  4  5  6  7  0
    //      0  8  9 10 11  0          window (oy, ox) covers padded rows 2oy .. 2oy+2, columns 2ox .. 2ox+2
    //      0 12 13 14 15  0
    //      0  0  0  0  0  0
    // Output channel 0, a kernel of ones (bias 0): the sum of each window.
    //   (0, 0): 0 + 1 + 4 + 5 = 10                  (0, 1): 1 + 2 + 3 + 5 + 6 + 7 = 24
    //   (1, 0): 4 + 5 + 8 + 9 + 12 + 13 = 51        (1, 1): 5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15 = 90
    // Output channel 1, +1 at the kernel's top-left, -1 at its bottom-right, bias 100: window's top-left
    // pixel minus its bottom-right one, plus 100 (not flipped, as nn.Conv2d):
    //   (0, 0): 0 - 5 + 100 = 95    (0, 1): 0 - 7 + 100 = 93    (1, 0): 0 - 13 + 100 = 87    (1, 1): 5 - 15 + 100 = 90
    const Tensor image = iota({1, 1, 4, 4});
    Tensor weight = Tensor::zeros({2, 1, 3, 3});
    for (int64_t i = 0; i < 9; ++i) weight.data()[i] = 1;
    weight.data()[9 + 0] = 1, weight.data()[9 + 8] = -1;
    const Tensor bias = Tensor::from_vector({0, 100}, {2});
    check_values(conv2d_loops(image, weight, bias, 2, 1), {1, 2, 2, 2}, {10, 24, 51, 90, 95, 93, 87, 90}, 0);

    // Stride 1, no padding: out = 4 - 3 + 1 = 2; each step right adds 1 to all 9 pixels (+9), each step
    // down adds 4 (+36): 0+1+2+4+5+6+8+9+10 = 45, then 54, 81, 90.
    check_values(conv2d_loops(image, slice(weight, 0, 0, 1), Tensor::zeros({1}), 1, 0), {1, 1, 2, 2},
                 {45, 54, 81, 90}, 0);
}

TEST_CASE("conv2d: the output size floor((in + 2p - K) / S) + 1 is the number of window positions") {
    struct Case {
        int64_t in, K, S, p, out;
    };
    for (const Case& c : {Case{4, 3, 2, 1, 2},     // the worked example
                          Case{4, 3, 1, 0, 2},     // no padding: the output loses K - 1 = 2 rows and columns
                          Case{32, 3, 1, 1, 32},   // "same": a 3x3 kernel with padding 1 keeps the size
                          Case{5, 3, 2, 1, 3},     // stride 2 halves, rounding up for odd sizes with padding
                          Case{5, 2, 2, 0, 2},     // the floor: the last row is never read
                          Case{6, 2, 3, 0, 2},     // stride > kernel: gaps between windows
                          Case{1, 3, 1, 1, 1},     // a 1-pixel image, all padding around it
                          Case{32, 4, 4, 0, 8},    // patch embedding, P = 4 on CIFAR-10: 8 x 8 patches
                          Case{224, 16, 16, 0, 14}}) {  // ViT-B/16 on ImageNet: 14 x 14 patches
        CAPTURE(c.in);
        CAPTURE(c.K);
        CAPTURE(c.S);
        CAPTURE(c.p);
        CHECK(conv_output_size(c.in, c.K, c.S, c.p) == c.out);
        CHECK(count_window_positions(c.in, c.K, c.S, c.p) == c.out);
        // The loop convolution's output has that shape, on a non-square input too.
        const Tensor out = conv2d_loops(random_tensor({1, 1, c.in, c.in + 1}, 1, false),
                                        random_tensor({1, 1, c.K, c.K}, 2, false), Tensor::zeros({1}), c.S, c.p);
        CHECK(out.shape() == Shape{1, 1, c.out, conv_output_size(c.in + 1, c.K, c.S, c.p)});
    }
    // Input pixels never read: with in = 5, K = 2, S = 2, p = 0 the windows start at 0 and 2 and end before
    // row 4. Changing row 4 changes nothing.
    Tensor x = random_tensor({1, 1, 5, 5}, 3, false);
    const Tensor weight = random_tensor({1, 1, 2, 2}, 4, false);
    const Tensor before = conv2d_loops(x, weight, Tensor::zeros({1}), 2, 0);
    for (int64_t col = 0; col < 5; ++col) x.data()[4 * 5 + col] += 7;
    check_close(conv2d_loops(x, weight, Tensor::zeros({1}), 2, 0), before, 0);
}

TEST_CASE("conv2d: the cost is B * D * Ho * Wo * C * K * K multiply-adds; D * C * K * K + D parameters") {
    int64_t counted = 0;
    const int64_t B = 2, C = 3, D = 4, Hi = 7, Wi = 6, K = 3, S = 2, p = 1;
    conv2d_loops(random_tensor({B, C, Hi, Wi}, 5, false), random_tensor({D, C, K, K}, 6, false), Tensor::zeros({D}),
                 S, p, &counted);
    const int64_t Ho = conv_output_size(Hi, K, S, p), Wo = conv_output_size(Wi, K, S, p);  // 4 and 3
    CHECK(Ho == 4);
    CHECK(Wo == 3);
    CHECK(counted == B * D * Ho * Wo * C * K * K);  // 2 * 4 * 4 * 3 * 3 * 3 * 3 = 2592
    CHECK(counted == 2592);
    // docs/convolution.md's two examples, per 32x32x3 image: patch embedding (K = S = 4, D = 128) and a
    // 3x3 convolution with padding 1 and stride 1 to 128 channels.
    const auto per_image = [](int64_t D_out, int64_t C_in, int64_t in, int64_t K_, int64_t S_, int64_t p_) {
        const int64_t out = conv_output_size(in, K_, S_, p_);
        return D_out * out * out * C_in * K_ * K_;
    };
    CHECK(per_image(128, 3, 32, 4, 4, 0) == 393216);   // 64 positions * 128 channels * 48
    CHECK(per_image(128, 3, 32, 3, 1, 1) == 3538944);  // 1024 positions * 128 channels * 27
    // Parameters: D * C * K * K + D. PatchEmbedding(C = 3, P = 4, D = 128) has 128*3*16 + 128 = 6272.
    Rng rng(14);
    PatchEmbedding embed(3, 4, 128, 32, rng);
    int64_t parameters = 0;
    for (const auto& [name, tensor] : embed.named_parameters()) parameters += tensor.numel();
    CHECK(parameters == 6272);
}

TEST_CASE("conv2d loops: the backward loops agree with central differences (stride 2, padding 1)") {
    const int64_t B = 2, C = 2, D = 3, Hi = 5, Wi = 4, K = 3, S = 2, p = 1;
    Tensor x = random_tensor({B, C, Hi, Wi}, 7, false), weight = random_tensor({D, C, K, K}, 8, false);
    Tensor bias = random_tensor({D}, 9, false);
    const Tensor probe = random_tensor(conv2d_loops(x, weight, bias, S, p).shape(), 10, false);
    // loss = sum(out * probe), so dout = probe.
    const auto loss = [&] {
        const Tensor out = conv2d_loops(x, weight, bias, S, p);
        double total = 0;
        for (int64_t i = 0; i < out.numel(); ++i) total += out.data()[i] * probe.data()[i];
        return total;
    };
    const ConvGradients grad = conv2d_backward_loops(x, weight, probe, S, p);
    const double eps = 1e-6;
    for (const auto& [value, analytic] : {std::pair{x, grad.x}, std::pair{weight, grad.weight}, std::pair{bias, grad.bias}}) {
        Tensor v = value;  // a handle: writing v.data() moves the input itself
        for (int64_t i = 0; i < v.numel(); ++i) {
            const Scalar kept = v.data()[i];
            v.data()[i] = kept + eps;
            const double up = loss();
            v.data()[i] = kept - eps;
            const double down = loss();
            v.data()[i] = kept;
            CHECK(std::abs((up - down) / (2 * eps) - analytic.data()[i]) < 1e-8);
        }
    }
}

TEST_CASE("PatchEmbedding is the convolution with kernel = stride = P and no padding: values and gradients") {
    const int64_t B = 2, C = 3, S = 8, P = 4, D = 5, h = S / P, N = h * h;
    Rng rng(11);
    PatchEmbedding embed(C, P, D, S, rng);
    for (int64_t i = 0; i < D; ++i) embed.proj.bias.data()[i] = Scalar(0.1 * (i + 1));  // a bias that shows
    Tensor images = random_tensor({B, C, S, S}, 12);
    CHECK(conv_output_size(S, P, P, 0) == h);  // floor((8 - 4) / 4) + 1 = 2: windows that tile the image

    // Values: out[b, i*w + j, d] of the embedding is conv[b, d, i, j] of the loop.
    const Tensor tokens = embed.forward(images);                                       // (B, N, D)
    const Tensor conv = conv2d_loops(images, embed.proj.weight, embed.proj.bias, P, 0);  // (B, D, h, w)
    REQUIRE(tokens.shape() == Shape{B, N, D});
    REQUIRE(conv.shape() == Shape{B, D, h, h});
    check_close(tokens, permute(reshape(conv, {B, D, N}), {0, 2, 1}), 1e-12);

    // Gradients: the library's autograd through patchify + linear, against the loop backward, for the same
    // loss sum(tokens * probe), i.e. dconv[b, d, i, j] = probe[b, i*w + j, d].
    const Tensor probe = random_tensor({B, N, D}, 13, false);
    sum(tokens * probe).backward();
    const ConvGradients expected = conv2d_backward_loops(images, embed.proj.weight,
                                                         reshape(permute(probe, {0, 2, 1}), {B, D, h, h}), P, 0);
    check_close(images.grad(), expected.x, 1e-12);
    check_close(embed.proj.weight.grad(), expected.weight, 1e-12);
    check_close(embed.proj.bias.grad(), expected.bias, 1e-12);
    // Each pixel lies in exactly one window (stride = kernel), so its gradient is one patch's worth:
    // pixel (0, 0, 0, 0) of image 0 is read only by output (0, 0), with weight[d, 0, 0, 0].
    double only_patch_0 = 0;
    for (int64_t d = 0; d < D; ++d) only_patch_0 += probe.data()[d] * embed.proj.weight.data()[d * C * P * P];
    CHECK(std::abs(images.grad().data()[0] - only_patch_0) < 1e-12);
}

// ---- im2col: unfold, then one matrix product ---------------------------------------------------------------

TEST_CASE("unfold + linear is the convolution, at any stride and padding: values and gradients") {
    struct Case { int64_t K, S, p; };
    for (const Case& c : {Case{3, 2, 1}, Case{3, 1, 1}, Case{2, 2, 0}, Case{3, 2, 0}}) {
        CAPTURE(c.K);
        CAPTURE(c.S);
        CAPTURE(c.p);
        const int64_t B = 2, C = 3, Hi = 6, Wi = 5, D = 4;
        const int64_t Ho = conv_output_size(Hi, c.K, c.S, c.p), Wo = conv_output_size(Wi, c.K, c.S, c.p);
        Tensor x = random_tensor({B, C, Hi, Wi}, 21);
        Tensor weight = random_tensor({D, C, c.K, c.K}, 22), bias = random_tensor({D}, 23);
        const Tensor windows = unfold(x, c.K, c.S, c.p);                               // (B, Ho*Wo, C*K*K)
        const Tensor out = linear(windows, reshape(weight, {D, C * c.K * c.K}), bias);  // (B, Ho*Wo, D)
        const Tensor loops = conv2d_loops(x, weight, bias, c.S, c.p);                   // (B, D, Ho, Wo)
        check_close(out, permute(reshape(loops, {B, D, Ho * Wo}), {0, 2, 1}), 1e-12);

        const Tensor probe = random_tensor({B, Ho * Wo, D}, 24, false);
        sum(out * probe).backward();
        const ConvGradients expected =
            conv2d_backward_loops(x, weight, reshape(permute(probe, {0, 2, 1}), {B, D, Ho, Wo}), c.S, c.p);
        check_close(x.grad(), expected.x, 1e-12);
        check_close(weight.grad(), expected.weight, 1e-12);
        check_close(bias.grad(), expected.bias, 1e-12);
    }
}

// ---- the conv stem ----------------------------------------------------------------------------------------

TEST_CASE("conv stem: log2(P) convolutions of 3x3, stride 2, padding 1, LayerNorm and GELU between, by loops") {
    // P = 4 and D = 6: images (B, 2, 8, 8) -> conv 0 -> (B, 3, 4, 4) -> LayerNorm over the 3 channels of each
    // pixel, GELU -> conv 1 (proj) -> (B, 6, 2, 2) -> the tokens (B, 4, 6).
    const int64_t B = 2, C = 2, S = 8, P = 4, D = 6;
    CHECK(conv_stem_depth(4) == 2);
    CHECK(conv_stem_depth(2) == 1);
    CHECK(conv_stem_depth(8) == 3);
    CHECK(conv_stem_depth(6) == 0);
    CHECK(conv_stem_depth(1) == 0);
    CHECK(conv_stem_fits(4, 128));
    CHECK(conv_stem_fits(8, 4));        // 4 / 4 = 1 channel at the first conv
    CHECK_FALSE(conv_stem_fits(8, 6));  // 6 does not halve twice
    CHECK_FALSE(conv_stem_fits(7, 64));
    CHECK(conv_stem_channels(4, 128) == std::vector<int64_t>{64, 128});
    CHECK(conv_stem_channels(8, 128) == std::vector<int64_t>{32, 64, 128});
    Rng rng(31);
    PatchEmbedding stem(C, P, D, S, rng, Stem::conv, 1e-6);
    REQUIRE(stem.convs.size() == 1);
    CHECK(stem.convs[0].weight.shape() == Shape{3, C, 3, 3});
    CHECK(stem.norms[0].weight.shape() == Shape{3});
    CHECK(stem.proj.weight.shape() == Shape{D, 3, 3, 3});
    for (Tensor& p : stem.parameters())  // biases and norms start at 0 and 1: make every one count
        for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] += static_cast<Scalar>(0.3 * rng.normal());

    const Tensor images = random_tensor({B, C, S, S}, 32, false);
    const Tensor first = conv2d_loops(images, stem.convs[0].weight, stem.convs[0].bias, 2, 1);  // (B, 3, 4, 4)
    Tensor normed = Tensor::empty(first.shape());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t pixel = 0; pixel < 16; ++pixel) {  // LayerNorm of the 3 channels at one pixel, then GELU
            double mean = 0, variance = 0;
            for (int64_t c = 0; c < 3; ++c) mean += first.data()[(b * 3 + c) * 16 + pixel] / 3;
            for (int64_t c = 0; c < 3; ++c) variance += std::pow(first.data()[(b * 3 + c) * 16 + pixel] - mean, 2) / 3;
            for (int64_t c = 0; c < 3; ++c) {
                const double z = (first.data()[(b * 3 + c) * 16 + pixel] - mean) / std::sqrt(variance + 1e-6) *
                                     stem.norms[0].weight.data()[c] + stem.norms[0].bias.data()[c];
                normed.data()[(b * 3 + c) * 16 + pixel] = z * 0.5 * (1 + std::erf(z / std::sqrt(2.0)));
            }
        }
    const Tensor last = conv2d_loops(normed, stem.proj.weight, stem.proj.bias, 2, 1);  // (B, D, 2, 2)
    check_close(stem.forward(images), permute(reshape(last, {B, D, 4}), {0, 2, 1}), 1e-10);

    stem.use_kernels(Kernels::reference);  // the textbook twins of linear and GELU give the same tokens
    check_close(stem.forward(images), permute(reshape(last, {B, D, 4}), {0, 2, 1}), 1e-10);
}

TEST_CASE("conv stem: float64 gradient check of the images and every parameter") {
    for (const int64_t P : {2, 4}) {
        CAPTURE(P);
        Rng rng(33);
        auto stem = std::make_shared<PatchEmbedding>(2, P, 6, 8, rng, Stem::conv, 1e-6);  // LayerNorm over 3
        std::vector<Tensor> inputs = {random_tensor({2, 2, 8, 8}, 34)};
        for (Tensor& p : stem->parameters()) {
            for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] += static_cast<Scalar>(0.3 * rng.normal());
            inputs.push_back(p);
        }
        CHECK(inputs.size() == (P == 2 ? 3u : 7u));  // proj (2), and for P = 4 a conv (2) and a LayerNorm (2)
        // The parameters are the module's own tensors, perturbed in place by the check.
        check_gradients([stem](const std::vector<Tensor>& in) { return stem->forward(in[0]); }, inputs);
    }
}

TEST_CASE("conv stem: a patch size that is not a power of two, or a width that does not halve, is refused") {
    Rng rng(35);
    CHECK(contains(thrown_message([&] { PatchEmbedding(3, 6, 12, 24, rng, Stem::conv); }),
                   "needs P a power of two (2, 4, 8, ..) and D divisible by P/2; got P 6, D 12"));
    CHECK(contains(thrown_message([&] { PatchEmbedding(3, 8, 6, 32, rng, Stem::conv); }), "got P 8, D 6"));
}
