// GradAccumulator (core/tensor.h): closures that add into every element of a gradient once write a fresh
// one (no zero fill) and add into one that already holds something. For each op that uses it: the first
// gradient is right even when its buffer is recycled memory full of NaN, and a second contribution adds up.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/buffer_pool.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

struct OpCase {
    std::string name;
    Shape input_shape;
    std::function<Tensor(const Tensor&)> f;  // one input, any output
};

// Constants shared by the cases (fixed seeds, so every run sees the same numbers).
const Tensor& weight() {
    static const Tensor w = random_tensor({5, 6}, 101, false);
    return w;
}
const Tensor& bias5() {
    static const Tensor b = random_tensor({5}, 102, false);
    return b;
}

std::vector<OpCase> op_cases() {
    return {
        {"linear", {2048, 6}, [](const Tensor& x) { return linear(x, weight(), bias5()); }},
        {"gelu", {2048, 6}, [](const Tensor& x) { return gelu(x); }},
        {"layer_norm", {2048, 6},
         [](const Tensor& x) { return layer_norm(x, random_tensor({6}, 103, false), random_tensor({6}, 104, false), 1e-5); }},
        {"reshape", {2048, 6}, [](const Tensor& x) { return reshape(x, {1024, 12}) * random_tensor({1024, 12}, 105, false); }},
        {"permute", {16, 32, 24}, [](const Tensor& x) { return permute(x, {2, 0, 1}) * random_tensor({24, 16, 32}, 106, false); }},
        {"add (same shape)", {2048, 6}, [](const Tensor& x) { return (x + random_tensor({2048, 6}, 107, false)) * x; }},
        {"index_select (a permutation)", {64, 256},
         [](const Tensor& x) {
             std::vector<int64_t> reversed(256);
             for (int64_t j = 0; j < 256; ++j) reversed[j] = 255 - j;
             return index_select(x, 1, reversed) * random_tensor({64, 256}, 108, false);
         }},
        {"multi_head_attention", {64, 16, 12}, [](const Tensor& x) { return multi_head_attention(x, 2, Tensor(), 0.5); }},
        {"roll", {8, 16, 16, 12},
         [](const Tensor& x) { return roll(x, {-2, -2}, {1, 2}) * random_tensor({8, 16, 16, 12}, 109, false); }},
    };
}

// Leaves NaN-filled buffers of `numel` elements in the buffer pool (core/buffer_pool.h; the inputs are
// big enough to be pooled), so the next gradient of that size starts out as NaN everywhere: only a
// closure that writes every element can produce the right result.
void poison_pool(int64_t numel) {
    std::vector<Tensor> keep;
    for (int i = 0; i < 4; ++i) keep.push_back(Tensor::full({numel}, std::numeric_limits<Scalar>::quiet_NaN()));
}

}  // namespace

TEST_CASE("grad_accumulator: += writes a fresh buffer and adds into a used one; a scattered one starts at 0") {
    const int64_t n = 32768;  // big enough to come from the buffer pool (64 KiB and more)
    Tensor x = Tensor::zeros({n});
    x.requires_grad_();
    poison_pool(n);  // the fresh buffer is recycled memory holding NaN
    const GradAccumulator first = x.grad_accumulator();
    CHECK_FALSE(first.accumulate());
    for (int64_t i = 0; i < n; ++i) first[i] += Scalar(i % 7);  // NaN + a would be NaN: the first += writes
    const GradAccumulator second = x.grad_accumulator();
    CHECK(second.accumulate());
    CHECK(second.data() == first.data());
    for (int64_t i = 0; i < n; ++i) second[i] += Scalar(10);
    bool all_right = true;
    for (int64_t i = 0; i < n; ++i) all_right = all_right && x.grad().data()[i] == Scalar(i % 7 + 10);
    CHECK(all_right);

    // every_element_once = false (a slice's or a repeated index's backward): zero-filled, then added into.
    Tensor y = Tensor::zeros({n});
    y.requires_grad_();
    poison_pool(n);
    const GradAccumulator scattered = y.grad_accumulator(/*every_element_once=*/false);
    CHECK(scattered.accumulate());
    scattered[1] += Scalar(5);
    scattered[1] += Scalar(2);
    CHECK(y.grad().data()[0] == 0);
    CHECK(y.grad().data()[1] == 7);
    CHECK(y.grad().data()[n - 1] == 0);
}

TEST_CASE("grad_accumulator: every op that overwrites a fresh gradient writes all of it, and adds a second one") {
    for (const OpCase& op : op_cases()) {
        CAPTURE(op.name);
        Tensor x = random_tensor(op.input_shape, 7, true, -1.5, 1.5);
        const Tensor probe_shape_out = op.f(x.detach());
        const Tensor probe = random_tensor(probe_shape_out.shape(), 8, false);

        // Reference: the same gradient from a buffer that starts at zero (grad_data zero-fills) ...
        x.zero_grad();
        x.grad_data();  // creates a zero gradient: the op's closure now accumulates into it
        sum(op.f(x) * probe).backward();
        const Tensor reference = x.grad().clone();
        REQUIRE(std::isfinite(reference.data()[0]));

        // ... equals the gradient written into a fresh buffer made of recycled NaN-filled memory.
        x.zero_grad();
        poison_pool(x.numel());
        sum(op.f(x) * probe).backward();
        check_close(x.grad(), reference, 0);

        // A second backward adds the same gradient again: twice the reference (up to rounding where the
        // op itself adds two contributions, as (x + c) * x does).
        sum(op.f(x) * probe).backward();
        Tensor twice = reference.clone();
        for (int64_t i = 0; i < twice.numel(); ++i) twice.data()[i] *= 2;
        check_close(x.grad(), twice, 1e-12);
    }
}

TEST_CASE("grad_accumulator: an input used twice in one graph gets both contributions") {
    for (const OpCase& op : op_cases()) {
        CAPTURE(op.name);
        Tensor x = random_tensor(op.input_shape, 9, true, -1.5, 1.5);
        const Tensor probe = random_tensor(op.f(x.detach()).shape(), 10, false);
        sum(op.f(x) * probe).backward();
        const Tensor once = x.grad().clone();
        x.zero_grad();
        sum(op.f(x) * probe + op.f(x) * probe).backward();
        for (int64_t i = 0; i < once.numel(); ++i) CHECK(x.grad().data()[i] == doctest::Approx(2 * once.data()[i]).epsilon(1e-12));
    }
}

TEST_CASE("adopt_grad: an addition hands its gradient buffer to one input and copies it for the other") {
    // out = a + b: out's gradient is an intermediate one, dropped after add's backward, so `a` takes the
    // buffer itself and only `b` needs a buffer of its own. Counted in the buffer pool's requests (the
    // tensors are large enough to be pooled): the seed's copy, then one gradient, not two.
    const int64_t n = 32768;
    Tensor a = random_tensor({n}, 40), b = random_tensor({n}, 41);
    const Tensor seed = random_tensor({n}, 42, false);
    Tensor out = a + b;
    const BufferPool::Stats before = storage_pool().stats();
    out.backward(seed);
    const BufferPool::Stats after = storage_pool().stats();
    const auto requests = [](const BufferPool::Stats& s) { return s.reused + s.fresh + s.cut_down; };
    CHECK(requests(after) - requests(before) == 2);
    check_close(a.grad(), seed, 0);
    check_close(b.grad(), seed, 0);
    CHECK(a.grad().data() != b.grad().data());  // two buffers: changing one must not change the other
}

TEST_CASE("adopt_grad: a retained gradient is never handed on, and a second use of an input adds") {
    const int64_t n = 32768;
    Tensor a = random_tensor({n}, 43), b = random_tensor({n}, 44);
    const Tensor seed = random_tensor({n}, 45, false);
    Tensor hidden = a + b;
    hidden.retain_grad();
    Tensor out = hidden + a;  // a used twice: once directly, once through hidden
    out.backward(seed);
    check_close(hidden.grad(), seed, 0);  // still hidden's own numbers after a and b took theirs
    CHECK(hidden.grad().data() != a.grad().data());
    CHECK(hidden.grad().data() != b.grad().data());
    check_close(a.grad(), seed * Scalar(2), 0);
    check_close(b.grad(), seed, 0);
}
