#include "tensor.h"

#include "buffer_pool.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// ---- storage ------------------------------------------------------------------------------------------

Storage::Storage(int64_t size_) : data(nullptr), size(size_) {
    check(size >= 0, "Storage: negative size ", size);
    if (static_cast<uint64_t>(size) > SIZE_MAX / 4 / sizeof(Scalar)) throw std::bad_alloc();  // no machine has it
    // From the pool of recycled buffers (core/buffer_pool.h): a training step's buffers come back every step.
    data = static_cast<Scalar*>(storage_pool().allocate(static_cast<size_t>(size) * sizeof(Scalar)));
}

Storage::~Storage() { storage_pool().release(data, static_cast<size_t>(size) * sizeof(Scalar)); }

// ---- shape helpers ------------------------------------------------------------------------------------

int64_t numel_of(const Shape& shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

int64_t normalize_dim(int64_t dim, int64_t rank, const char* op_name) {
    check(dim >= -rank && dim < rank, op_name, ": dim ", dim, " is out of range for a tensor of rank ", rank,
          " (expected ", -rank, " .. ", rank - 1, ")");
    return dim < 0 ? dim + rank : dim;
}

// ---- creation -----------------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape) {
    for (int64_t s : shape) check(s >= 0, "Tensor: negative size in shape ", shape);
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(numel_of(shape));
    impl->shape = shape;
    return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, Scalar value) {
    Tensor t = empty(shape);
    std::fill_n(t.data(), t.numel(), value);
    return t;
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, Scalar(0)); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, Scalar(1)); }
Tensor Tensor::scalar(Scalar value) { return full({}, value); }

Tensor Tensor::arange(int64_t end) { return arange(0, static_cast<Scalar>(end), 1); }

Tensor Tensor::arange(Scalar start, Scalar end, Scalar step) {
    check(step != 0, "arange: step must not be zero");
    const double count = std::ceil((static_cast<double>(end) - start) / step);
    Tensor t = empty({std::max<int64_t>(0, static_cast<int64_t>(count))});
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = start + static_cast<Scalar>(i) * step;
    return t;
}

Tensor Tensor::from_vector(const std::vector<Scalar>& values, const Shape& shape) {
    Tensor t = empty(shape);
    check(static_cast<int64_t>(values.size()) == t.numel(), "from_vector: ", values.size(),
          " values cannot fill shape ", shape, ", which holds ", t.numel());
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

Tensor Tensor::uniform(const Shape& shape, Scalar low, Scalar high, Rng& rng) {
    Tensor t = empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<Scalar>(rng.uniform(low, high));
    return t;
}

Tensor Tensor::normal(const Shape& shape, Scalar mean, Scalar std, Rng& rng) {
    Tensor t = empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<Scalar>(mean + std * rng.normal());
    return t;
}

// ---- shape and data -----------------------------------------------------------------------------------

TensorImpl& Tensor::impl() const {
    check(impl_ != nullptr, "Tensor: this tensor is undefined (default-constructed, or a grad not yet computed)");
    return *impl_;
}

const Shape& Tensor::shape() const { return impl().shape; }
int64_t Tensor::numel() const { return numel_of(shape()); }
Scalar* Tensor::data() { return impl().storage->data; }
const Scalar* Tensor::data() const { return impl().storage->data; }

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }

Scalar Tensor::item() const {
    check(numel() == 1, "item: the tensor has shape ", shape(), " (", numel(), " elements), expected one element");
    return data()[0];
}

std::vector<Scalar> Tensor::to_vector() const { return std::vector<Scalar>(data(), data() + numel()); }

Tensor Tensor::clone() const {
    Tensor copy = empty(shape());
    std::copy_n(data(), numel(), copy.data());
    return copy;
}

Tensor Tensor::share_storage(const Shape& new_shape) const {
    check(numel_of(new_shape) == numel(), "share_storage: shape ", new_shape, " does not hold the ", numel(),
          " elements of shape ", shape());
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = impl_->storage;
    impl->shape = new_shape;
    return Tensor(std::move(impl));
}

std::string Tensor::to_string() const {
    if (!defined()) return "tensor(undefined)";
    std::ostringstream os;
    os << "tensor(" << patchgrad::to_string(shape()) << ", [";
    const int64_t shown = std::min<int64_t>(numel(), 12);
    for (int64_t i = 0; i < shown; ++i) os << (i ? ", " : "") << data()[i];
    os << (shown < numel() ? ", ...])" : "])");
    return os.str();
}

// ---- autograd: bookkeeping ----------------------------------------------------------------------------

static thread_local bool grad_mode_enabled = true;

bool grad_enabled() { return grad_mode_enabled; }
NoGradGuard::NoGradGuard() : previous_(grad_mode_enabled) { grad_mode_enabled = false; }
NoGradGuard::~NoGradGuard() { grad_mode_enabled = previous_; }

bool Tensor::requires_grad() const { return impl().requires_grad; }
bool Tensor::is_leaf() const { return impl().grad_fn == nullptr; }
Tensor Tensor::grad() const { return impl().grad; }
void Tensor::zero_grad() { impl().grad = Tensor(); }
void Tensor::retain_grad() { impl().retains_grad = true; }
const char* Tensor::op_name() const { return impl().grad_fn ? impl().grad_fn->op_name : "leaf"; }

Tensor& Tensor::requires_grad_(bool enabled) {
    check(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad; this one is the output of '",
          op_name(), "' (use detach() to make a leaf)");
    impl().requires_grad = enabled;
    return *this;
}

Tensor Tensor::detach() const { return share_storage(shape()); }

Scalar* Tensor::grad_data() const {
    TensorImpl& self = impl();
    if (!self.grad.defined()) self.grad = zeros(self.shape);
    return self.grad.data();
}

GradAccumulator Tensor::grad_accumulator(bool every_element_once) const {
    TensorImpl& self = impl();
    if (self.grad.defined()) return {self.grad.data(), /*fresh=*/false};
    if (!every_element_once) return {grad_data(), /*fresh=*/false};  // zero-filled: += adds to 0
    self.grad = empty(self.shape);
    return {self.grad.data(), /*fresh=*/true};
}

bool Tensor::adopt_grad(const Tensor& grad) const {
    TensorImpl& self = impl();
    const TensorImpl& given = grad.impl();
    // One handle to `grad` (the caller's) and one owner of its storage (no reshaped view of it elsewhere):
    // once it is this tensor's gradient, nothing else can read or change those numbers.
    const bool sole_owner = grad.impl_.use_count() == 1 && given.storage.use_count() == 1;
    if (self.grad.defined() || !sole_owner || given.grad_fn || given.requires_grad || given.shape != self.shape)
        return false;
    self.grad = grad;
    return true;
}

void Tensor::set_backward(const char* op_name, std::vector<Tensor> inputs, BackwardFn backward_fn) {
    if (!grad_mode_enabled) return;
    const bool any = std::any_of(inputs.begin(), inputs.end(),
                                 [](const Tensor& t) { return t.defined() && t.requires_grad(); });
    if (!any) return;
    TensorImpl& self = impl();
    self.requires_grad = true;
    self.grad_fn = std::make_shared<Node>(Node{op_name, std::move(inputs), std::move(backward_fn)});
}

// A chain of 100,000 ops is 100,000 nested shared pointers: output -> node -> input -> node -> ... Left to
// the default destructor, freeing the last output frees the chain recursively, one stack frame per op, and
// overflows the stack. Instead each node, before it dies, takes the nodes that only it keeps alive out of
// its inputs and frees them one by one in a loop, so the recursion never goes deeper than one level.
void Node::release_inputs(std::vector<std::shared_ptr<Node>>& orphans) {
    backward_fn = nullptr;  // the closure's copies of the inputs go first, so the use counts below are exact
    for (Tensor& input : inputs) {
        std::shared_ptr<TensorImpl>& impl = input.impl_;
        if (impl && impl.use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1)
            orphans.push_back(std::move(impl->grad_fn));
    }
    inputs.clear();
}

Node::~Node() {
    std::vector<std::shared_ptr<Node>> orphans;
    release_inputs(orphans);
    while (!orphans.empty()) {
        std::shared_ptr<Node> node = std::move(orphans.back());
        orphans.pop_back();
        node->release_inputs(orphans);
    }  // each node dies here with no inputs left, so its own destructor has nothing to recurse into
}

// ---- autograd: backward -------------------------------------------------------------------------------

struct Autograd {
    // Every tensor that the output depends on through recorded ops, ordered so that each tensor comes
    // after all the tensors it was computed from (a topological order). Depth-first search with an
    // explicit stack instead of recursion: a tensor is emitted once all of its inputs have been.
    static std::vector<std::shared_ptr<TensorImpl>> topological_order(const std::shared_ptr<TensorImpl>& root) {
        std::vector<std::shared_ptr<TensorImpl>> order;
        std::unordered_set<TensorImpl*> visited;
        struct Frame {
            std::shared_ptr<TensorImpl> tensor;
            size_t next_input;
        };
        std::vector<Frame> stack{{root, 0}};
        visited.insert(root.get());
        while (!stack.empty()) {
            Frame& frame = stack.back();
            const Node* node = frame.tensor->grad_fn.get();
            if (node && frame.next_input < node->inputs.size()) {
                const Tensor& input = node->inputs[frame.next_input++];
                if (input.defined() && input.impl_->requires_grad && visited.insert(input.impl_.get()).second)
                    stack.push_back({input.impl_, 0});  // invalidates `frame`; the loop re-reads it
            } else {
                order.push_back(std::move(frame.tensor));
                stack.pop_back();
            }
        }
        return order;
    }

    static void run(const Tensor& output, const Tensor& seed, bool retain_graph) {
        std::vector<std::shared_ptr<TensorImpl>> order = topological_order(output.impl_);
        // A freed node means an earlier backward already went through this graph and let go of the
        // values the closures need. Check before touching any gradient, so a failed call changes nothing.
        for (const auto& tensor : order)
            check(!tensor->grad_fn || tensor->grad_fn->backward_fn, "backward: tried to go through the graph a ",
                  "second time, but op '", tensor->grad_fn ? tensor->grad_fn->op_name : "", "' already freed ",
                  "the values it saved; call backward(/*retain_graph=*/true) the first time to keep them");

        TensorImpl& root = *output.impl_;
        if (root.grad.defined()) {
            for (int64_t i = 0; i < seed.numel(); ++i) root.grad.data()[i] += seed.data()[i];
        } else {
            root.grad = seed.clone();
        }
        // Walk from the output back to the leaves: when a tensor is reached, every op that used it has
        // already added its share into its grad, so the grad is complete and can flow to its inputs.
        for (auto it = order.rbegin(); it != order.rend(); ++it) {
            TensorImpl& tensor = **it;
            if (!tensor.grad_fn) continue;  // a leaf: its grad stays for the optimizer
            if (tensor.grad.defined()) {
                NoGradGuard no_grad;  // backward arithmetic is not itself recorded
                // An intermediate grad does not outlive its op's backward, so it is handed over (moved)
                // rather than shared: the op may then pass the buffer itself on to an input as that input's
                // gradient (adopt_grad: the two sides of a residual addition) instead of copying it.
                const Tensor grad = tensor.retains_grad ? tensor.grad : std::move(tensor.grad);
                tensor.grad_fn->backward_fn(grad);
            }
            if (!tensor.retains_grad) tensor.grad = Tensor();  // intermediate grads do not outlive backward
            if (!retain_graph) {
                // Free the closure and the values it saved now, not when the output dies: the activations
                // of a forward pass are the bulk of training memory. The node keeps its name, so a second
                // backward can say which op it stopped at.
                tensor.grad_fn->backward_fn = nullptr;
                tensor.grad_fn->inputs.clear();
                it->reset();  // our own reference: the tensor may now be freed, unless someone else holds it
            }
        }
    }
};

void Tensor::backward(bool retain_graph) {
    check(numel() == 1, "backward: the output has shape ", shape(), "; backward() without a gradient needs ",
          "a one-element tensor (such as a loss); otherwise pass a gradient of shape ", shape());
    backward(ones(shape()), retain_graph);
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) {
    check(grad_output.defined() && grad_output.shape() == shape(), "backward: the gradient has shape ",
          grad_output.defined() ? grad_output.shape() : Shape{}, " but the output has shape ", shape());
    check(requires_grad(), "backward: the output does not require grad (no input required grad, ",
          "or it was computed under NoGradGuard)");
    Autograd::run(*this, grad_output, retain_graph);
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
