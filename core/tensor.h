#pragma once
// Tensor: an n-dimensional array of Scalar with reverse-mode automatic differentiation.
//
// A Tensor is a handle (like torch::Tensor): copying it copies a shared pointer, never the numbers. The
// numbers live in one contiguous row-major buffer, outermost dimension first: element (i, j, k) of a
// (I, J, K) tensor sits at offset (i * J + j) * K + k. There are no strides and no views with holes; an
// op that rearranges elements (permute, slice) writes a new buffer. docs/tensor.md tells why.
//
// Autograd in three lines (docs/autograd.md has the whole story):
//   * every op whose inputs require grad records a Node on its output: the op's name, its inputs and a
//     closure that, given d(loss)/d(output), adds d(loss)/d(input) into each input's grad (+=);
//   * backward() sorts the graph in topological order (iteratively: chains of 100k ops are fine) and
//     calls the closures from the loss back to the leaves, each exactly once;
//   * leaves (tensors you created, such as parameters) keep their grad; intermediate grads and, unless
//     asked to keep them, the closures with the values they saved are freed as backward passes by.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "check.h"
#include "parallel.h"
#include "random.h"
#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class Tensor;
struct TensorImpl;
struct Node;

// The numbers of one or more tensors (reshape shares them). 64-byte aligned for vector loads.
struct Storage {
    explicit Storage(int64_t size);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    Scalar* data;
    int64_t size;
};

// The gradient of one tensor, for a backward closure to add into:  dx[i] += value.
//
// Gradients accumulate: a tensor used by two ops gets the sum of both contributions, so every backward
// adds. The first contribution to reach a tensor finds no gradient yet, and zero-filling a fresh buffer
// only to add to it would cost a whole extra pass over memory. So when the closure adds into every element
// exactly once, the buffer is created uninitialised and that first += writes. The choice is made here, in
// one place; a backward is written once, as its derivation reads:
//
//     GradAccumulator dx = x.grad_accumulator();
//     for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * derivative(i);
//
// tests/test_grad_accumulator.cpp fills recycled memory with NaN first, so a closure that skips an element of a
// fresh gradient is caught.
class GradAccumulator {
public:
    GradAccumulator(Scalar* data, bool fresh) : data_(data), fresh_(fresh) {}
    // One element: `dx[i] += value` adds, or writes into a fresh buffer.
    struct Element {
        Scalar* at;
        bool fresh;
        void operator+=(Scalar value) const { *at = fresh ? value : *at + value; }
    };
    Element operator[](int64_t i) const { return {data_ + i, fresh_}; }
    // dx[i] += term(i) for every i < n, shared among threads when n is large: a pointwise backward's whole
    // loop. Written here as two loops, one that writes and one that adds, so that each vectorises with no
    // choice inside it (a pointwise derivative with exponentials in it does not, when += decides per element).
    template <class Term>
    void add_each(int64_t n, Term term) const {
        Scalar* d = data_;
        if (fresh_) {
#pragma omp parallel for if (n >= kParallelElements)  // iteration i owns d[i]
            for (int64_t i = 0; i < n; ++i) d[i] = term(i);
        } else {
#pragma omp parallel for if (n >= kParallelElements)  // iteration i owns d[i]
            for (int64_t i = 0; i < n; ++i) d[i] += term(i);
        }
    }
    // For a kernel that takes the choice as an argument, as gemm does: C = (accumulate ? C : 0) + A @ B.
    Scalar* data() const { return data_; }
    bool accumulate() const { return !fresh_; }

private:
    Scalar* data_;
    bool fresh_;
};

// The most tensors Tensor::to_svg draws. A tiny ViT's training step (63 tensors) fits; beyond this the
// picture is many screens tall and its edges a tangle: DOT and Graphviz do better (docs/seeing_inside.md).
inline constexpr size_t kMaxSvgTensors = 80;

// Given d(loss)/d(output), add d(loss)/d(input) into the grad of each input that requires it.
using BackwardFn = std::function<void(const Tensor& grad_output)>;

class Tensor {
public:
    Tensor() = default;  // an undefined tensor: no shape, no data (defined() is false)

    // ---- creation --------------------------------------------------------------------------------
    static Tensor empty(const Shape& shape);  // uninitialised: for kernels that write every element
    static Tensor zeros(const Shape& shape);
    static Tensor ones(const Shape& shape);
    static Tensor full(const Shape& shape, Scalar value);
    static Tensor arange(int64_t end);                              // 0, 1, ..., end-1
    static Tensor arange(Scalar start, Scalar end, Scalar step);    // start, start+step, ... < end
    static Tensor from_vector(const std::vector<Scalar>& values, const Shape& shape);
    static Tensor scalar(Scalar value);                             // shape ()
    static Tensor uniform(const Shape& shape, Scalar low, Scalar high, Rng& rng);
    static Tensor normal(const Shape& shape, Scalar mean, Scalar std, Rng& rng);

    // ---- shape and data ----------------------------------------------------------------------------
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    int64_t dim() const { return static_cast<int64_t>(shape().size()); }
    int64_t size(int64_t d) const;  // d may be negative: size(-1) is the last dimension
    int64_t numel() const;
    Scalar* data();
    const Scalar* data() const;
    Scalar item() const;                         // the single element of a one-element tensor
    std::vector<Scalar> to_vector() const;
    Tensor clone() const;                        // a copy of the numbers, outside the graph
    std::string to_string() const;               // "tensor((2, 2), [1, 2, 3, 4])", at most 12 numbers
    std::string to_dot() const;                  // the autograd graph as Graphviz DOT (core/graph_dot.cpp)
    // The autograd graph as an SVG picture (core/graph_svg.cpp): one box per tensor with the op that made
    // it, its shape, its values and its grad. `names` labels chosen tensors ({w, "w"}). Throws when the
    // graph has more than kMaxSvgTensors tensors: too many to read; use to_dot and Graphviz.
    std::string to_svg(const std::vector<std::pair<Tensor, std::string>>& names = {}) const;

    // ---- autograd ---------------------------------------------------------------------------------
    bool requires_grad() const;
    Tensor& requires_grad_(bool enabled = true);  // only on leaves
    bool is_leaf() const;                          // not the output of a recorded op
    Tensor grad() const;                           // undefined until a backward reaches this tensor
    void zero_grad();                              // drop the gradient (PyTorch's set_to_none)
    void retain_grad();                            // keep this intermediate tensor's grad after backward
    Tensor detach() const;                         // same numbers, no history, requires_grad false

    // Backpropagate from this one-element tensor, seeding d(self)/d(self) = 1.
    void backward(bool retain_graph = false);
    // Backpropagate from any tensor, seeding with an explicit d(loss)/d(self) of the same shape.
    void backward(const Tensor& grad_output, bool retain_graph = false);

    // ---- for op authors (core/ops/*.cpp) -------------------------------------------------------------
    // Record how to backpropagate through the op that produced this tensor. Does nothing when no input
    // requires grad or grad mode is off (NoGradGuard), so ops call it unconditionally.
    void set_backward(const char* op_name, std::vector<Tensor> inputs, BackwardFn backward_fn);
    // This tensor's gradient buffer, zero-filled on first use: backward closures add into it.
    Scalar* grad_data() const;  // const: a handle, like a shared_ptr, lets closures write through it
    // This tensor's gradient as a GradAccumulator (above), for a closure to add into: dx[i] += value.
    // every_element_once: the closure adds into every element exactly once (a pointwise op, a product, a
    // permutation), so a first gradient can be written straight into an uninitialised buffer; otherwise
    // (slice, repeated indices) the buffer is zero-filled first.
    GradAccumulator grad_accumulator(bool every_element_once = true) const;
    // Takes `grad` itself as this tensor's gradient, with no copy, when this tensor has no gradient yet
    // and nothing else holds `grad` or its numbers (a temporary, or an intermediate gradient that the
    // backward pass handed over, see Autograd::run). Returns whether it did; if not, the caller adds the
    // numbers in (add_to_grad, core/ops/op_helpers.h).
    bool adopt_grad(const Tensor& grad) const;
    const char* op_name() const;  // the op that made this tensor, or "leaf"
    // A new tensor over the same numbers with another shape of equal numel, outside the graph (reshape).
    Tensor share_storage(const Shape& shape) const;

    // Two handles to the same tensor?
    bool same(const Tensor& other) const { return impl_ == other.impl_; }

private:
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
    TensorImpl& impl() const;
    // to_dot's and to_svg's walk (core/graph_dot.cpp): every tensor this one was computed from, inputs
    // that need no grad included, each after all of its inputs; this tensor last.
    std::vector<const TensorImpl*> graph_in_finish_order() const;
    friend struct Node;
    friend struct Autograd;
    std::shared_ptr<TensorImpl> impl_;
};

// The bookkeeping behind a handle. Users never touch it; it is here so the data layout is plain to see.
struct TensorImpl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    bool requires_grad = false;
    bool retains_grad = false;
    Tensor grad;                    // same shape; created by the first backward that reaches this tensor
    std::shared_ptr<Node> grad_fn;  // the op that produced this tensor; null for a leaf
};

// One recorded op: the edge from an output back to its inputs.
struct Node {
    const char* op_name;
    std::vector<Tensor> inputs;
    BackwardFn backward_fn;  // empty once freed by a backward without retain_graph
    ~Node();                 // tears long chains down iteratively (see tensor.cpp)
    // Drop the closure and the inputs; hand over the input nodes that nothing else keeps alive.
    void release_inputs(std::vector<std::shared_ptr<Node>>& orphans);
};

// Grad mode: while a NoGradGuard lives, ops record nothing (inference, optimizer updates, evaluation).
// The flag is thread-local, so a guard on one thread never affects another.
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};
bool grad_enabled();

// Dimension helpers shared by the ops.
int64_t numel_of(const Shape& shape);
int64_t normalize_dim(int64_t dim, int64_t rank, const char* op_name);  // -1 -> rank-1, with a range check

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
