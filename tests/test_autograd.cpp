// The autograd engine (core/tensor.cpp): the traps that small autograd engines fall into, one test each.
#include <thread>

#include "tests/helpers.h"

using namespace patchgrad;

TEST_CASE("a value used twice gets the gradient of both uses") {
    // b = a + a = 2a, c = b * b = 4a^2, dc/da = 8a = 24 at a = 3
    Tensor a = Tensor::scalar(3).requires_grad_();
    Tensor b = a + a;
    Tensor c = b * b;
    CHECK(c.item() == 36);
    c.backward();
    CHECK(a.grad().item() == 24);
}

TEST_CASE("a diamond: two paths from one input meet again") {
    // y = x*2 + x*x at x = 5: dy/dx = 2 + 2x = 12
    Tensor x = Tensor::scalar(5).requires_grad_();
    Tensor y = x * Scalar(2) + x * x;
    y.backward();
    CHECK(x.grad().item() == 12);
}

TEST_CASE("backward twice with retain_graph accumulates exactly twice") {
    // y = 3x: dy/dx = 3 per backward, so 6 after two
    Tensor x = Tensor::from_vector({1, 2}, {2}).requires_grad_();
    Tensor y = sum(x * Scalar(3));
    y.backward(/*retain_graph=*/true);
    y.backward();
    check_values(x.grad(), {2}, {6, 6});
}

TEST_CASE("backward twice without retain_graph is refused, naming the op") {
    Tensor x = Tensor::from_vector({1, 2}, {2}).requires_grad_();
    Tensor y = sum(x * x);
    y.backward();
    const std::string message = thrown_message([&] { y.backward(); });
    CHECK(contains(message, "second time"));
    CHECK(contains(message, "retain_graph"));
    CHECK(contains(message, "sum"));
    check_values(x.grad(), {2}, {2, 4});  // the refused call left the first result alone
}

TEST_CASE("backward on a non-scalar needs an explicit gradient") {
    Tensor x = random_tensor({2, 3}, 1);
    Tensor y = x * Scalar(2);
    const std::string message = thrown_message([&] { y.backward(); });
    CHECK(contains(message, "(2, 3)"));
    // With an explicit gradient g: dx = 2 g
    y.backward(Tensor::full({2, 3}, 0.5));
    check_values(x.grad(), {2, 3}, {1, 1, 1, 1, 1, 1});
    // A gradient of the wrong shape names both shapes.
    Tensor z = x * Scalar(2);
    const std::string wrong = thrown_message([&] { z.backward(Tensor::ones({3, 2})); });
    CHECK(contains(wrong, "(3, 2)"));
    CHECK(contains(wrong, "(2, 3)"));
}

TEST_CASE("intermediate gradients do not leak into the next step") {
    Tensor w = Tensor::scalar(2).requires_grad_();
    for (int step = 0; step < 3; ++step) {
        w.zero_grad();
        Tensor hidden = w * Scalar(3);  // 6
        Tensor loss = hidden * hidden;  // 36, dloss/dw = 2 * hidden * 3 = 36
        loss.backward();
        CHECK(w.grad().item() == 36);
        CHECK_FALSE(hidden.grad().defined());  // freed once it had flowed on
        CHECK_FALSE(loss.grad().defined());
    }
    Tensor hidden = w * Scalar(3);
    hidden.retain_grad();
    (hidden * hidden).backward();
    CHECK(hidden.grad().item() == 12);  // dloss/dhidden = 2 * 6, kept on request
}

TEST_CASE("a chain of 100,000 ops neither overflows the stack in backward nor when freed") {
    Tensor x = Tensor::scalar(1).requires_grad_();
    {
        Tensor y = x;
        for (int i = 0; i < 100000; ++i) y = y + Scalar(1);
        CHECK(y.item() == 100001);
        y.backward();
        CHECK(x.grad().item() == 1);
    }
    {
        Tensor y = x;  // a chain that is freed without ever running backward
        for (int i = 0; i < 100000; ++i) y = y * Scalar(1);
        CHECK(y.requires_grad());
    }
}

TEST_CASE("NoGradGuard records nothing, restores the mode, and is per thread") {
    Tensor x = random_tensor({3}, 2);
    {
        NoGradGuard no_grad;
        CHECK_FALSE(grad_enabled());
        Tensor y = x * Scalar(2);
        CHECK_FALSE(y.requires_grad());
        CHECK(y.is_leaf());
        bool other_thread_enabled = false;
        std::thread([&] { other_thread_enabled = grad_enabled(); }).join();
        CHECK(other_thread_enabled);
    }
    CHECK(grad_enabled());
    CHECK((x * Scalar(2)).requires_grad());
}

TEST_CASE("detach cuts the graph; requires_grad_ only on leaves") {
    Tensor x = random_tensor({2}, 3);
    Tensor y = x * Scalar(2);
    Tensor d = y.detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.data() == y.data());  // same numbers, no copy
    const std::string message = thrown_message([&] { y.requires_grad_(false); });
    CHECK(contains(message, "leaf"));
    CHECK(contains(message, "mul"));
}

TEST_CASE("an op whose inputs need no grad records nothing") {
    Tensor a = random_tensor({2}, 4, /*requires_grad=*/false);
    Tensor b = a * a;
    CHECK_FALSE(b.requires_grad());
    CHECK(std::string(b.op_name()) == "leaf");
    const std::string message = thrown_message([&] { sum(b).backward(); });
    CHECK(contains(message, "does not require grad"));
}

TEST_CASE("zero_grad drops a leaf's gradient; the next backward starts from zero") {
    Tensor x = Tensor::scalar(4).requires_grad_();
    (x * x).backward();
    CHECK(x.grad().item() == 8);
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
    (x * x).backward();
    CHECK(x.grad().item() == 8);
}
