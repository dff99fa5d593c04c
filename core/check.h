#pragma once
// check(ok, parts...): the one way library code reports a caller's mistake.
//
//     check(a.size(-1) == b.size(0), "matmul: ", a.shape(), " @ ", b.shape(), ": inner sizes differ");
//
// throws std::invalid_argument("matmul: (2, 3) @ (4, 5): inner sizes differ"). Shapes print as PyTorch
// prints them. Loaders and other I/O use check_io, which throws std::runtime_error: the input, not the
// caller, was wrong. Library code never prints and never exits; the command line turns these exceptions
// into one clear line and a non-zero exit code.
//
// The parts are formatted only when the check fails, so a check that passes costs one branch. But C++
// evaluates every argument before the call: a part written as an expression that builds text
// (`value.dump()`, `"a" + name`) is built on every call, failing or not, and a check inside a loop then
// costs what its message costs, every iteration. Pass the values themselves (a Shape, a Json, a number,
// a string), or, for text that must be computed, a lambda, which is called only on failure:
//
//     check_io(size >= 0, where, ": shape ", shape, " is negative");             // shape: a Json
//     check_io(ok, where, ": found ", [&] { return describe(value); });
#include <concepts>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// A tensor's shape, outermost dimension first: (B, T, C) is {B, T, C}.
using Shape = std::vector<int64_t>;

// "(2, 3)" for {2, 3}, "()" for a scalar's empty shape, "(5,)" for one dimension, as PyTorch prints them.
inline std::string to_string(const Shape& shape) {
    std::string text = "(";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

inline void append_part(std::ostringstream& os, const Shape& shape) { os << to_string(shape); }
template <class Part>
void append_part(std::ostringstream& os, const Part& part) {
    if constexpr (std::invocable<const Part&>) os << part();  // text computed only on the failure path
    else os << part;
}

template <class... Parts>
std::string format_message(const Parts&... parts) {
    std::ostringstream os;
    (append_part(os, parts), ...);
    return os.str();
}

template <class... Parts>
void check(bool ok, const Parts&... parts) {
    if (!ok) throw std::invalid_argument(format_message(parts...));
}

template <class... Parts>
void check_io(bool ok, const Parts&... parts) {
    if (!ok) throw std::runtime_error(format_message(parts...));
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
