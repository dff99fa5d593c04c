#pragma once
// Which kernels a module's forward runs (and so which backwards):
//   fast        the fused ops (linear, layer_norm, gelu, multi_head_attention, Swin's one-gather windows)
//   reference   their textbook twins, composed from primitive ops (linear_reference, ..., core/ops.h):
//               the paper's steps one op at a time, to read and to step through in a debugger
// The two compute the same function (tests/test_reference_ops.cpp, tests/test_reference_models.cpp).
// A model takes it from its config (ViTConfig::kernels, SwinConfig::kernels) and hands it to every layer
// (Module::use_kernels); the command line's --reference sets it.
//
// Outside the float32/float64 flavours (core/scalar.h): it names a choice, not a number, so one program's
// float32 and float64 halves share it (examples/gradcheck/gradcheck_suite_flavours.h).
namespace patchgrad {

enum class Kernels { fast, reference };

inline const char* to_string(Kernels kernels) { return kernels == Kernels::fast ? "fast" : "reference"; }

}  // namespace patchgrad
