#pragma once
// The scalar type of every tensor, fixed when a file is compiled.
//
//   float  (the default)              training: half the memory traffic and twice the SIMD lanes of double
//   double (-DPATCHGRAD_FLOAT64)      gradient checks: central differences need ~16 significant digits
//
// The same source compiles to both flavours. Each flavour lives in its own inline namespace,
// patchgrad::f32 or patchgrad::f64, so code can say `patchgrad::Tensor` and get the flavour it was compiled
// for, while one program may link both (the command line runs float64 gradient checks next to float32
// training) without the linker confusing the two. libstdc++ uses the same mechanism for std::__cxx11.
// Every patchgrad file therefore opens its namespace as
//
//     namespace patchgrad {
//     inline namespace PATCHGRAD_FLAVOUR {
//
// two lines rather than C++20's one-line `namespace patchgrad::inline PATCHGRAD_FLAVOUR`, because editors'
// indexers (Universal Ctags, clangd) read this form and find every definition inside it
// (tests/test_tooling.cpp). PATCHGRAD_FLAVOUR is the only macro in the library. docs/tensor.md explains
// the choice.

#ifdef PATCHGRAD_FLOAT64
#define PATCHGRAD_FLAVOUR f64
#else
#define PATCHGRAD_FLAVOUR f32
#endif

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

#ifdef PATCHGRAD_FLOAT64
using Scalar = double;
#else
using Scalar = float;
#endif

// The name of this flavour, for messages and reports: "float32" or "float64".
constexpr const char* scalar_name() { return sizeof(Scalar) == 8 ? "float64" : "float32"; }

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
