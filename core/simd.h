#pragma once
// The widest SIMD register this build compiles for, and the vector of Scalars that fills it: what gemm's
// micro-kernel computes with (core/gemm.cpp, docs/matmul.md) and what the FMA peak probe measures
// (core/fma_peak.h), one choice for both, so the probe's ceiling is the one the kernel can reach.
//
// kVectorBytes: 64 with AVX-512 (16 floats / 8 doubles), 32 with AVX2, 16 with SSE2 (every x86-64) and with
// NEON (every aarch64), chosen by the -march flags the file is compiled with (make ARCH=..., docs/building.md).
// Vec is a GCC vector type (clang reads it too): `acc += a * b` on it is one fused multiply-add instruction
// (vfmadd231ps, fmla), no intrinsics needed, and the same source compiles for any of them.
#include <cstdint>

#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif
typedef Scalar Vec __attribute__((vector_size(kVectorBytes)));
constexpr int64_t kVectorLanes = kVectorBytes / sizeof(Scalar);  // 16 floats or 8 doubles with AVX-512

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
