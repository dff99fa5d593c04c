// bench_attention: milliseconds of multi_head_attention alone, on random numbers, the way a transformer
// block calls it: in inference (under NoGradGuard, no probabilities kept), and forward then backward in
// training (the probabilities kept, the gradient of qkv formed). Inference prints the best of the runs,
// training the medians (a backward's time varies with what the allocator hands it).
//
// usage: bench_attention [B T C H [RUNS]]     default: the tiny ViT's 128 65 128 4, 40 runs
//   the Swin's windows: bench_attention 2048 16 64 2 (no bias here; the model adds its relative bias)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/ops.h"
#include "core/random.h"

using namespace patchgrad;

namespace {

double milliseconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int64_t B = 128, T = 65, C = 128, H = 4, runs = 40;
    if (argc != 1 && argc != 5 && argc != 6) {
        std::fprintf(stderr, "usage: %s [B T C H [RUNS]]   (default: 128 65 128 4 40, the tiny ViT)\n", argv[0]);
        return 2;
    }
    if (argc >= 5) B = std::atoll(argv[1]), T = std::atoll(argv[2]), C = std::atoll(argv[3]), H = std::atoll(argv[4]);
    if (argc == 6) runs = std::atoll(argv[5]);
    if (B < 1 || T < 1 || H < 1 || C < H || C % H != 0 || runs < 1) {
        std::fprintf(stderr, "%s: need B, T, H >= 1, C a multiple of H, RUNS >= 1\n", argv[0]);
        return 2;
    }
    Rng rng(1);
    const Tensor qkv = Tensor::normal({B, T, 3 * C}, 0, 1, rng);                   // (B, T, 3C)
    Tensor qkv_leaf = Tensor::normal({B, T, 3 * C}, 0, 1, rng).requires_grad_();  // (B, T, 3C)
    const Tensor dout = Tensor::normal({B, T, C}, 0, 1, rng);                      // (B, T, C)
    const Scalar scale = Scalar(1 / std::sqrt(double(C / H)));

    double inference = 1e300;
    std::vector<double> forward, backward;
    for (int64_t run = 0; run < runs + 3; ++run) {  // 3 warm-up runs
        auto start = std::chrono::steady_clock::now();
        {
            NoGradGuard no_grad;
            const Tensor out = multi_head_attention(qkv, H, Tensor(), scale);
        }
        const double inference_ms = milliseconds_since(start);
        qkv_leaf.zero_grad();
        start = std::chrono::steady_clock::now();
        Tensor out = multi_head_attention(qkv_leaf, H, Tensor(), scale);
        const double forward_ms = milliseconds_since(start);
        start = std::chrono::steady_clock::now();
        out.backward(dout);
        const double backward_ms = milliseconds_since(start);
        if (run < 3) continue;
        inference = std::min(inference, inference_ms);
        forward.push_back(forward_ms);
        backward.push_back(backward_ms);
    }
    std::printf("B=%lld T=%lld C=%lld H=%lld inference_ms=%.3f forward_ms=%.3f backward_ms=%.3f\n", (long long)B,
                (long long)T, (long long)C, (long long)H, inference, median(forward), median(backward));
}
