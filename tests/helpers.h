#pragma once
// Helpers shared by the test files: random inputs, gradient checks that report through doctest, and the
// text of a thrown error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/random.h"
#include "nn/module.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// The emulator the suite runs under, as `make test-aarch64` names it in PATCHGRAD_EMULATOR
// ("qemu-aarch64 -L /usr/aarch64-linux-gnu"; docs/building.md), or "" when it runs natively. A program
// the tests start (the exercises) must run under it too.
inline std::string emulator_command() {
    const char* emulator = std::getenv("PATCHGRAD_EMULATOR");
    return emulator ? emulator : "";
}

// True when the suite runs under an emulator. Every instruction then costs about ten times as much, and
// QEMU 7.2 takes some system calls' hints (madvise) without passing them on.
inline bool running_under_emulator() { return !emulator_command().empty(); }

// Adds 0.1 N(0, 1) to every parameter of `module`, in place. Initialization puts some at exactly 0
// (biases) or 1 (norm weights): moved off those values, no term of a gradient check is vacuous.
inline void perturb_parameters(Module& module, Rng& rng) {
    for (Tensor& p : module.parameters())
        for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] += static_cast<Scalar>(0.1 * rng.normal());
}

// Uniform in [low, high) from a seed; requires grad unless told otherwise.
inline Tensor random_tensor(const Shape& shape, uint64_t seed, bool requires_grad = true, Scalar low = -1,
                            Scalar high = 1) {
    Rng rng(seed);
    Tensor t = Tensor::uniform(shape, low, high, rng);
    t.requires_grad_(requires_grad);
    return t;
}

// A failed gradient check fails the test case and prints which input and element went wrong.
inline void check_gradients(const TensorFunction& f, const std::vector<Tensor>& inputs,
                            const GradcheckOptions& options = {}) {
    const GradcheckReport report = gradcheck(f, inputs, options);
    CHECK_MESSAGE(report.passed, report.message());
}

// The message of the exception `action` throws, or "" when it throws nothing.
inline std::string thrown_message(const std::function<void()>& action) {
    try {
        action();
    } catch (const std::exception& error) {
        return error.what();
    }
    return "";
}

// The largest |a - b| over two tensors of one shape (a test fails if the shapes differ).
inline double max_abs_difference(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    double largest = 0;
    for (int64_t i = 0; i < a.numel(); ++i) largest = std::max(largest, std::abs(double(a.data()[i] - b.data()[i])));
    return largest;
}

// The Euclidean length of all of t's elements, as one vector.
inline double norm(const Tensor& t) {
    double total = 0;
    for (Scalar value : t.to_vector()) total += double(value) * value;
    return std::sqrt(total);
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Every element of `t` equals `expected` within `tolerance`, and the shapes agree.
inline void check_values(const Tensor& t, const Shape& shape, const std::vector<double>& expected,
                         double tolerance = 1e-6) {
    REQUIRE_MESSAGE(t.shape() == shape, "shape ", to_string(t.shape()), ", expected ", to_string(shape));
    REQUIRE(static_cast<size_t>(t.numel()) == expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
        CHECK_MESSAGE(std::abs(t.data()[i] - expected[i]) <= tolerance, "element ", i, ": ", t.data()[i],
                      ", expected ", expected[i]);
}

// Runs `action` with OpenMP limited to `threads` threads, puts the previous limit back, and returns what
// `action` returned: the tests that compare 1 thread with several use it. Without OpenMP it just runs.
template <class Action>
auto with_threads(int threads, Action action) {
#ifdef _OPENMP
    const int previous = omp_get_max_threads();
    omp_set_num_threads(threads);
    auto result = action();
    omp_set_num_threads(previous);
    return result;
#else
    (void)threads;
    return action();
#endif
}

// Two tensors of the same shape whose elements agree within `tolerance`.
inline void check_close(const Tensor& actual, const Tensor& expected, double tolerance = 1e-12) {
    const std::vector<Scalar> values = expected.to_vector();
    check_values(actual, expected.shape(), std::vector<double>(values.begin(), values.end()), tolerance);
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
