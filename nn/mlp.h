#pragma once
// Mlp: the feed-forward half of a transformer block, applied to each token on its own.   (timm's Mlp)
//   x (B, T, C) -> (B, T, C);  hidden width Hd, usually 4C
//
//   fc1 (C -> Hd)  ->  gelu  ->  dropout  ->  fc2 (Hd -> C)  ->  dropout
//
//   Mlp mlp(/*dim=*/192, /*hidden=*/768, rng, /*dropout=*/0.1);
//
// Parameters (timm names): fc1.weight (Hd, C), fc1.bias (Hd), fc2.weight (C, Hd), fc2.bias (C).
// The two dropouts are registered as drop1 and drop2 (no parameters; registered so that train()/eval()
// reach them). forward takes the Rng the dropouts draw from; with p = 0 or in eval mode nothing is drawn.
#include <cstdint>

#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class Mlp : public Module {
public:
    Mlp(int64_t dim, int64_t hidden, Rng& rng, double dropout = 0.0);

    Tensor forward(const Tensor& x, Rng& rng) const;  // (.., C) -> (.., C)

    Linear fc1;     // C -> Hd
    Linear fc2;     // Hd -> C
    Dropout drop1;  // after gelu
    Dropout drop2;  // after fc2
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
