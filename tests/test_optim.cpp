// The optimizers (optim/): SGD, Adam and AdamW against updates worked out by hand, which parameters decay,
// convergence on least squares, the learning-rate schedules, gradient clipping, and checkpoint state.
#include <cmath>
#include <limits>

#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// A parameter: a leaf that requires grad.
Tensor param(const std::vector<Scalar>& values, const Shape& shape) {
    Tensor p = Tensor::from_vector(values, shape);
    p.requires_grad_();
    return p;
}

// Sets p's gradient to `values`, as a backward pass would have left it.
void set_grad(Tensor& p, const std::vector<Scalar>& values) {
    p.zero_grad();
    Scalar* g = p.grad_data();
    for (size_t j = 0; j < values.size(); ++j) g[j] = values[j];
}

// The tensor named `name` in a state() list.
Tensor state_of(const NamedTensors& state, const std::string& name) {
    for (const auto& [state_name, t] : state)
        if (state_name == name) return t;
    FAIL("no state named ", name);
    return Tensor();
}

bool bit_identical(const Tensor& a, const Tensor& b) { return a.shape() == b.shape() && a.to_vector() == b.to_vector(); }

}  // namespace

// ---- SGD ------------------------------------------------------------------------------------------------

TEST_CASE("SGD: plain steps by hand") {
    // p <- p - lr g, lr = 0.1, g = (0.5, 1) every step
    //   step 1: (1 - 0.05, -2 - 0.1) = (0.95, -2.1);  step 2: (0.90, -2.2);  step 3: (0.85, -2.3)
    Tensor p = param({1, -2}, {2});
    SGD sgd({{"w", p}}, 0.1);
    const std::vector<std::vector<double>> expected = {{0.95, -2.1}, {0.90, -2.2}, {0.85, -2.3}};
    for (const auto& values : expected) {
        set_grad(p, {0.5, 1});
        sgd.step();
        check_values(p, {2}, values, 1e-12);
    }
    CHECK(sgd.step_count() == 3);
    CHECK(sgd.state().size() == 2);  // "step", "step.w": no momentum buffer without momentum
}

TEST_CASE("SGD: momentum (heavy ball) by hand, the buffer starting at the first gradient") {
    // mu = 0.9, lr = 0.1, g = 0.5 every step, p0 = 1
    //   t1: b = g = 0.5                          p = 1 - 0.1 * 0.5 = 0.95
    //   t2: b = 0.9 * 0.5 + 0.5 = 0.95           p = 0.95 - 0.095 = 0.855
    //   t3: b = 0.9 * 0.95 + 0.5 = 1.355         p = 0.855 - 0.1355 = 0.7195
    Tensor p = param({1}, {1});
    SGD sgd({{"w", p}}, 0.1, 0.9);
    const double expected_p[] = {0.95, 0.855, 0.7195};
    const double expected_b[] = {0.5, 0.95, 1.355};
    for (int t = 0; t < 3; ++t) {
        set_grad(p, {0.5});
        sgd.step();
        check_values(p, {1}, {expected_p[t]}, 1e-12);
        check_values(state_of(sgd.state(), "momentum_buffer.w"), {1}, {expected_b[t]}, 1e-12);
    }
}

TEST_CASE("SGD: dampening scales the new gradient, but not the first one") {
    // mu = 0.9, tau = 0.1, lr = 0.1, g = 0.5, p0 = 1
    //   t1: b = g = 0.5 (undamped)                 p = 1 - 0.05 = 0.95
    //   t2: b = 0.9 * 0.5 + 0.9 * 0.5 = 0.9        p = 0.95 - 0.09 = 0.86
    Tensor p = param({1}, {1});
    SGD sgd({{"w", p}}, 0.1, 0.9, 0.1);
    set_grad(p, {0.5});
    sgd.step();
    check_values(p, {1}, {0.95}, 1e-12);
    set_grad(p, {0.5});
    sgd.step();
    check_values(p, {1}, {0.86}, 1e-12);
}

TEST_CASE("SGD: Nesterov momentum by hand") {
    // mu = 0.9, lr = 0.1, g = 0.5, p0 = 1; the step uses d = g + mu b
    //   t1: b = 0.5     d = 0.5 + 0.45 = 0.95       p = 1 - 0.095 = 0.905
    //   t2: b = 0.95    d = 0.5 + 0.855 = 1.355     p = 0.905 - 0.1355 = 0.7695
    //   t3: b = 1.355   d = 0.5 + 1.2195 = 1.7195   p = 0.7695 - 0.17195 = 0.59755
    Tensor p = param({1}, {1});
    SGD sgd({{"w", p}}, 0.1, 0.9, 0, 0, true);
    const double expected[] = {0.905, 0.7695, 0.59755};
    for (double value : expected) {
        set_grad(p, {0.5});
        sgd.step();
        check_values(p, {1}, {value}, 1e-12);
    }
}

TEST_CASE("SGD: weight decay is added to the gradient, for parameters that decay") {
    // lambda = 0.1, lr = 0.1, g = 0.5, p0 = 1; d = g + lambda p
    //   t1: d = 0.5 + 0.1       = 0.6        p = 1 - 0.06 = 0.94
    //   t2: d = 0.5 + 0.094     = 0.594      p = 0.94 - 0.0594 = 0.8806
    //   t3: d = 0.5 + 0.08806   = 0.58806    p = 0.8806 - 0.058806 = 0.821794
    // The weight (1, 1) decays; the bias (1) has one dimension, so it does not: it moves by lr g = 0.05.
    Tensor weight = param({1}, {1, 1});
    Tensor bias = param({1}, {1});
    SGD sgd({{"fc.weight", weight}, {"fc.bias", bias}}, 0.1, 0, 0, 0.1);
    const double expected[] = {0.94, 0.8806, 0.821794};
    for (int t = 0; t < 3; ++t) {
        set_grad(weight, {0.5});
        set_grad(bias, {0.5});
        sgd.step();
        check_values(weight, {1, 1}, {expected[t]}, 1e-12);
        check_values(bias, {1}, {1 - 0.05 * (t + 1)}, 1e-12);
    }
}

// ---- Adam and AdamW --------------------------------------------------------------------------------------

TEST_CASE("Adam: three steps by hand, and the moments in the state") {
    // lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8. Element 0 sees g = 0.5, 0.1, -0.2; element 1 sees g = -1
    // every step, for which bias correction gives m_hat = g and v_hat = g^2 exactly: a step of lr * |g| /
    // (|g| + eps) = 0.1 * (1 - 1e-8) each time.
    // Element 0, p0 = 1:
    //   t1: m = 0.1 * 0.5 = 0.05                 v = 0.001 * 0.25 = 0.00025
    //       m_hat = 0.05 / (1 - 0.9) = 0.5       v_hat = 0.00025 / (1 - 0.999) = 0.25, sqrt 0.5
    //       p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 1 - 0.1 * (1 - 2e-8) = 0.900000002
    //   t2: m = 0.9 * 0.05 + 0.1 * 0.1 = 0.055   v = 0.999 * 0.00025 + 0.001 * 0.01 = 0.00025975
    //       m_hat = 0.055 / (1 - 0.81) = 0.289473684...   v_hat = 0.00025975 / (1 - 0.998001) = 0.129939970...
    //       sqrt(v_hat) = 0.360471871...   p = 0.900000002 - 0.1 * 0.289473684 / 0.360471871 = 0.819695906...
    //   t3: m = 0.9 * 0.055 - 0.1 * 0.2 = 0.0295  v = 0.999 * 0.00025975 + 0.001 * 0.04 = 0.00029949025
    //       m_hat = 0.0295 / 0.271 = 0.108856089  v_hat = 0.00029949025 / 0.002997001 = 0.09992998, sqrt 0.316117035
    //       p = 0.819695906 - 0.1 * 0.108856089 / 0.316117035 = 0.785260532
    // Element 1, p0 = -2: -1.900000001, -1.800000002, -1.700000003.
    Tensor p = param({1, -2}, {1, 2});
    Adam adam({{"w", p}}, 0.1);
    const std::vector<std::vector<Scalar>> grads = {{0.5, -1}, {0.1, -1}, {-0.2, -1}};
    const std::vector<std::vector<double>> expected = {{0.900000002, -1.900000001},
                                                       {0.8196959063846518, -1.8000000020000007},
                                                       {0.785260531835489, -1.7000000030000006}};
    for (int t = 0; t < 3; ++t) {
        set_grad(p, grads[t]);
        adam.step();
        check_values(p, {1, 2}, expected[t], 1e-12);
        if (t == 1) {
            const NamedTensors state = adam.state();
            check_values(state_of(state, "exp_avg.w"), {1, 2}, {0.055, -0.19}, 1e-15);
            check_values(state_of(state, "exp_avg_sq.w"), {1, 2}, {0.00025975, 0.001999}, 1e-15);
            check_values(state_of(state, "step.w"), {}, {2});
        }
    }
}

TEST_CASE("Adam's L2 weight decay goes through the adaptive scaling; AdamW's decoupled decay does not") {
    // lr = 0.1, lambda = 0.1, p0 = 1, g = 0.5, 0.1, -0.2; a (1, 1) weight, so it decays.
    // Adam (L2): t1: g' = 0.5 + 0.1 * 1 = 0.6, m_hat = 0.6, v_hat = 0.36: p = 1 - 0.1 * 0.6 / (0.6 + 1e-8)
    //   = 0.9000000016666...: the decay only changed the gradient, and Adam divides the size back out.
    //   t2: g' = 0.1 + 0.1 * 0.9000000017 = 0.19000000017, m = 0.073000000017, v = 0.00039574000006
    //       m_hat = 0.3842105264, v_hat = 0.1979689845 (sqrt 0.4449370568): p = 0.8136483454
    //   t3: p = 0.7598997572
    // AdamW: t1: p = 1 * (1 - 0.1 * 0.1) = 0.99, then the plain Adam step 0.1 * (1 - 2e-8): p = 0.890000002
    //   t2: p = 0.890000002 * 0.99 - 0.1 * 0.289473684 / 0.360471871 = 0.8007959064   t3: 0.7583525728
    const std::vector<Scalar> grads = {0.5, 0.1, -0.2};
    Tensor p_adam = param({1}, {1, 1});
    Tensor p_adamw = param({1}, {1, 1});
    Adam adam({{"weight", p_adam}}, 0.1, 0.9, 0.999, 1e-8, 0.1);
    AdamW adamw({{"weight", p_adamw}}, 0.1, 0.9, 0.999, 1e-8, 0.1);
    CHECK(!adam.decoupled_weight_decay());
    CHECK(adamw.decoupled_weight_decay());
    const double expected_adam[] = {0.9000000016666666, 0.8136483454297575, 0.7598997572221902};
    const double expected_adamw[] = {0.890000002, 0.8007959063646517, 0.7583525727518423};
    for (int t = 0; t < 3; ++t) {
        set_grad(p_adam, {grads[t]});
        set_grad(p_adamw, {grads[t]});
        adam.step();
        adamw.step();
        check_values(p_adam, {1, 1}, {expected_adam[t]}, 1e-12);
        check_values(p_adamw, {1, 1}, {expected_adamw[t]}, 1e-12);
    }
}

TEST_CASE("AdamW: decay applies to weights, not to biases, norms, tokens or position tables") {
    // Zero gradients: m = v = 0, so the Adam step is 0 / (0 + eps) = 0 and only the decay moves p:
    // p <- p * (1 - lr * lambda) = p * (1 - 0.1 * 0.5) = 0.95 p for the parameters that decay.
    NamedTensors params = {
        {"blocks.0.attn.qkv.weight", param({1, 2, 3, 4}, {2, 2})},                      // decays
        {"blocks.0.attn.qkv.bias", param({1, 2}, {2})},                                 // dim 1
        {"blocks.0.norm1.weight", param({1, 1}, {2})},                                  // dim 1
        {"cls_token", param({1, 2}, {1, 1, 2})},                                        // name
        {"pos_embed", param({1, 2, 3, 4, 5, 6}, {1, 3, 2})},                            // name
        {"layers.0.absolute_pos_embed", param({1, 2}, {1, 1, 2})},                      // contains pos_embed
        {"layers.0.blocks.1.attn.relative_position_bias_table", param({1, 2, 3}, {3, 1})},  // name
        {"head.weight", param({2, -2}, {1, 2})},                                        // decays
    };
    std::vector<std::vector<Scalar>> before;
    for (auto& [name, p] : params) {
        before.push_back(p.to_vector());
        set_grad(p, std::vector<Scalar>(p.numel(), 0));
    }
    AdamW adamw(params, 0.1, 0.9, 0.999, 1e-8, 0.5);
    CHECK(adamw.decayed_names() == std::vector<std::string>{"blocks.0.attn.qkv.weight", "head.weight"});
    adamw.step();
    for (size_t i = 0; i < params.size(); ++i) {
        CAPTURE(params[i].first);
        const double factor = adamw.decays(i) ? 0.95 : 1.0;
        std::vector<double> expected;
        for (Scalar value : before[i]) expected.push_back(factor * value);
        check_values(params[i].second, params[i].second.shape(), expected, 1e-15);
    }
    check_values(params[0].second, {2, 2}, {0.95, 1.9, 2.85, 3.8}, 1e-15);  // 0.95 * (1, 2, 3, 4)
}

TEST_CASE("decays_by_default, and a decay rule of one's own") {
    CHECK(decays_by_default("blocks.0.attn.qkv.weight", Tensor::zeros({6, 2})));
    CHECK(decays_by_default("patch_embed.proj.weight", Tensor::zeros({4, 3, 2, 2})));
    CHECK(!decays_by_default("blocks.0.attn.qkv.bias", Tensor::zeros({6})));
    CHECK(!decays_by_default("blocks.0.norm1.weight", Tensor::zeros({2})));
    CHECK(!decays_by_default("scalar", Tensor::scalar(1)));
    CHECK(!decays_by_default("cls_token", Tensor::zeros({1, 1, 2})));
    CHECK(!decays_by_default("pos_embed", Tensor::zeros({1, 5, 2})));
    CHECK(!decays_by_default("absolute_pos_embed", Tensor::zeros({1, 4, 2})));
    CHECK(!decays_by_default("layers.0.blocks.1.attn.relative_position_bias_table", Tensor::zeros({9, 2})));
    CHECK(decays_by_default("cls_token_proj.weight", Tensor::zeros({2, 2})));  // "cls_token" not at the end
    // A rule that decays everything makes SGD decay the bias too: d = 0 + 0.5 * 2 = 1, p = 2 - 0.1 = 1.9.
    Tensor bias = param({2}, {1});
    SGD sgd({{"bias", bias}}, 0.1, 0, 0, 0.5, false, [](const std::string&, const Tensor&) { return true; });
    CHECK(sgd.decays(0));
    set_grad(bias, {0});
    sgd.step();
    check_values(bias, {1}, {1.9}, 1e-15);
}

TEST_CASE("parameters without a grad are skipped: no move, no decay, no step counted") {
    Tensor a = param({1, 2}, {1, 2});
    Tensor b = param({3, 4}, {1, 2});
    AdamW adamw({{"a", a}, {"b", b}}, 0.1, 0.9, 0.999, 1e-8, 0.1);
    set_grad(a, {0.5, 0.5});
    adamw.step();
    check_values(b, {1, 2}, {3, 4}, 0);
    CHECK(a.data()[0] != 1);
    const NamedTensors state = adamw.state();
    check_values(state_of(state, "step"), {}, {1});
    check_values(state_of(state, "step.a"), {}, {1});
    check_values(state_of(state, "step.b"), {}, {0});
    // zero_grad drops every grad
    adamw.zero_grad();
    CHECK(!a.grad().defined());
}

// ---- convergence -----------------------------------------------------------------------------------------

// Least squares: y = X w* for X (64, 4), w* = (1, -2, 0.5, 3); loss = mean((X w - y)^2) from w = 0.
// Runs `steps` optimizer steps (setting lr from `schedule` when given) and returns the final loss.
static double least_squares(Optimizer& optimizer, Tensor& w, const Tensor& x, const Tensor& y, int64_t steps,
                            const std::function<Scalar(int64_t)>& schedule = nullptr) {
    double loss_value = 0;
    for (int64_t step = 0; step <= steps; ++step) {
        optimizer.zero_grad();
        Tensor residual = matmul(x, w) - y;
        Tensor loss = mean(residual * residual);
        loss_value = loss.item();
        if (step == steps) break;
        loss.backward();
        if (schedule) optimizer.set_lr(schedule(step));
        optimizer.step();
    }
    return loss_value;
}

TEST_CASE("every optimizer solves a small least-squares problem") {
    const Tensor x = random_tensor({64, 4}, 7, false);
    const Tensor w_star = Tensor::from_vector({1, -2, 0.5, 3}, {4, 1});
    const Tensor y = matmul(x, w_star);
    const auto fresh = [] { return param({0, 0, 0, 0}, {4, 1}); };
    Tensor residual0 = y;  // at w = 0 the residual is -y
    const double start = mean(residual0 * residual0).item();
    CHECK(start > 1);
    const auto cosine = [](int64_t step) { return warmup_cosine_lr(step, 20, 400, 0.1, 0); };
    {
        Tensor w = fresh();
        SGD sgd({{"weight", w}}, 0.3);
        CHECK(least_squares(sgd, w, x, y, 400) < 1e-8);
    }
    {
        Tensor w = fresh();
        SGD sgd({{"weight", w}}, 0.1, 0.9);
        CHECK(least_squares(sgd, w, x, y, 400) < 1e-8);
    }
    {
        Tensor w = fresh();
        SGD sgd({{"weight", w}}, 0.1, 0.9, 0, 0, true);
        CHECK(least_squares(sgd, w, x, y, 400) < 1e-8);
    }
    {
        Tensor w = fresh();
        Adam adam({{"weight", w}}, 0.1);
        CHECK(least_squares(adam, w, x, y, 400, cosine) < 1e-6);
    }
    {
        Tensor w = fresh();
        AdamW adamw({{"weight", w}}, 0.1, 0.9, 0.999, 1e-8, 1e-4);
        CHECK(least_squares(adamw, w, x, y, 400, cosine) < 1e-6);  // the decay pulls w slightly towards 0
        check_values(w, {4, 1}, {1, -2, 0.5, 3}, 1e-3);
    }
}

// ---- schedules -------------------------------------------------------------------------------------------

TEST_CASE("warmup_cosine_lr at the key steps, by hand") {
    // W = 10, S = 110, base = 1e-3, min = 1e-5
    const auto lr = [](int64_t step) { return warmup_cosine_lr(step, 10, 110, 1e-3, 1e-5); };
    CHECK(lr(0) == doctest::Approx(1e-4).epsilon(1e-12));   // 1e-3 * 1 / 10
    CHECK(lr(4) == doctest::Approx(5e-4).epsilon(1e-12));   // 1e-3 * 5 / 10
    CHECK(lr(9) == 1e-3);                                    // 1e-3 * 10 / 10: the warmup ends at base, exactly
    CHECK(lr(10) == doctest::Approx(1e-3).epsilon(1e-12));   // progress 0: cos 0 = 1
    // step 35: progress 25 / 100, (1 + cos(pi / 4)) / 2 = 0.853553391; 1e-5 + 0.99e-3 * 0.853553391
    CHECK(lr(35) == doctest::Approx(0.000855017856687341).epsilon(1e-12));
    CHECK(lr(60) == doctest::Approx(5.05e-4).epsilon(1e-12));  // progress 1/2: (1e-3 + 1e-5) / 2
    // step 109: progress 99/100, (1 + cos(0.99 pi)) / 2 = 0.000246719; 1e-5 + 0.99e-3 * 0.000246719
    CHECK(lr(109) == doctest::Approx(1.0244252618962858e-05).epsilon(1e-12));
    CHECK(lr(110) == 1e-5);  // the end
    CHECK(lr(500) == 1e-5);  // and after it
    // No warmup: the cosine starts at base on step 0.
    CHECK(warmup_cosine_lr(0, 0, 100, 0.5, 0) == 0.5);
    CHECK(warmup_cosine_lr(50, 0, 100, 0.5, 0) == doctest::Approx(0.25).epsilon(1e-12));
    // Warmup all the way: W = S.
    CHECK(warmup_cosine_lr(4, 5, 5, 0.5, 0.1) == 0.5);
    CHECK(warmup_cosine_lr(5, 5, 5, 0.5, 0.1) == 0.1);
}

TEST_CASE("constant_lr and LrSchedule") {
    CHECK(constant_lr(0, 0, 0.3) == 0.3);
    CHECK(constant_lr(1000, 0, 0.3) == 0.3);
    CHECK(constant_lr(0, 4, 0.4) == doctest::Approx(0.1).epsilon(1e-12));  // 0.4 * 1 / 4
    CHECK(constant_lr(3, 4, 0.4) == 0.4);
    CHECK(constant_lr(4, 4, 0.4) == 0.4);
    LrSchedule schedule;
    schedule.warmup_steps = 10;
    schedule.total_steps = 110;
    schedule.base_lr = 1e-3;
    schedule.min_lr = 1e-5;
    CHECK(schedule.at(60) == warmup_cosine_lr(60, 10, 110, 1e-3, 1e-5));
    schedule.kind = "constant";
    CHECK(schedule.at(60) == 1e-3);
    schedule.kind = "linear";
    CHECK(contains(thrown_message([&] { schedule.at(0); }), "'linear'"));
}

TEST_CASE("schedules: bad arguments name the values") {
    CHECK(contains(thrown_message([] { warmup_cosine_lr(-1, 0, 10, 1, 0); }), "-1"));
    const std::string steps = thrown_message([] { warmup_cosine_lr(0, 20, 10, 1, 0); });
    CHECK(contains(steps, "warmup_steps 20"));
    CHECK(contains(steps, "total_steps 10"));
    const std::string lrs = thrown_message([] { warmup_cosine_lr(0, 0, 10, 0.1, 0.2); });
    CHECK(contains(lrs, "min_lr 0.2"));
    CHECK(contains(lrs, "base_lr 0.1"));
    CHECK(contains(thrown_message([] { constant_lr(0, -3, 1); }), "-3"));
    CHECK(contains(thrown_message([] { constant_lr(0, 0, -0.5); }), "-0.5"));
}

// ---- clip_grad_norm ---------------------------------------------------------------------------------------

TEST_CASE("clip_grad_norm: a 3-4-5 triangle by hand") {
    // grads (3) and (4): norm sqrt(9 + 16) = 5. max_norm 1: scale by 1 / (5 + 1e-6) = 0.19999996
    //   -> (0.599999880, 0.799999840), norm 0.99999980
    Tensor a = param({0}, {1});
    Tensor b = param({0}, {1, 1});
    Tensor c = param({0}, {1});  // no grad: skipped
    set_grad(a, {3});
    set_grad(b, {4});
    CHECK(clip_grad_norm({a, b, c}, 1) == 5);
    check_values(a.grad(), {1}, {0.599999880000024}, 1e-15);
    check_values(b.grad(), {1, 1}, {0.799999840000032}, 1e-15);
    CHECK(!c.grad().defined());
    // Under the limit nothing changes: norm 0.9999998 < 10.
    CHECK(clip_grad_norm({a, b, c}, 10) == doctest::Approx(0.9999998).epsilon(1e-12));
    check_values(a.grad(), {1}, {0.599999880000024}, 1e-15);
    // One tensor of four elements: (3, 0, 0, -4), norm 5, max_norm 2.5: halved (nearly).
    Tensor d = param({0, 0, 0, 0}, {2, 2});
    set_grad(d, {3, 0, 0, -4});
    CHECK(clip_grad_norm({d}, 2.5) == 5);
    check_values(d.grad(), {2, 2}, {1.5, 0, 0, -2}, 1e-6);
}

TEST_CASE("clip_grad_norm: a non-finite norm is returned, the grads left alone") {
    Tensor a = param({0, 0}, {2});
    set_grad(a, {std::numeric_limits<Scalar>::infinity(), 1});
    CHECK(std::isinf(clip_grad_norm({a}, 1)));
    CHECK(a.grad().data()[1] == 1);
    set_grad(a, {std::nan(""), 1});
    CHECK(std::isnan(clip_grad_norm({a}, 1)));
    CHECK(a.grad().data()[1] == 1);
    CHECK(contains(thrown_message([&] { clip_grad_norm({a}, 0); }), "got 0"));
    CHECK(contains(thrown_message([&] { clip_grad_norm({a}, -2); }), "got -2"));
}

// ---- checkpoints ------------------------------------------------------------------------------------------

// A fixed loss of two parameters, weight (2, 3) and bias (3): sum((x @ weight + bias)^2 * probe).
static void backward_fixed_loss(Tensor& weight, Tensor& bias) {
    const Tensor x = random_tensor({4, 2}, 31, false);
    const Tensor probe = random_tensor({4, 3}, 32, false, 0.5, 1.5);
    Tensor out = matmul(x, weight) + bias;
    sum(out * out * probe).backward();
}

// Runs 3 steps, saves, runs 2 more; then a fresh optimizer on copies of the saved parameters loads the state
// and runs the same 2 steps: every number must match bit for bit.
static void check_resume(const std::function<std::unique_ptr<Optimizer>(NamedTensors)>& make) {
    Tensor weight = random_tensor({2, 3}, 21);
    Tensor bias = random_tensor({3}, 22);
    std::unique_ptr<Optimizer> original = make({{"weight", weight}, {"bias", bias}});
    const auto one_step = [](Optimizer& optimizer, Tensor& w, Tensor& b) {
        optimizer.set_lr(warmup_cosine_lr(optimizer.step_count(), 2, 10, 0.05, 0.001));
        optimizer.zero_grad();
        backward_fixed_loss(w, b);
        optimizer.step();
    };
    for (int i = 0; i < 3; ++i) one_step(*original, weight, bias);
    const NamedTensors saved = original->state();
    Tensor weight_copy = weight.clone().requires_grad_();
    Tensor bias_copy = bias.clone().requires_grad_();
    for (int i = 0; i < 2; ++i) one_step(*original, weight, bias);

    std::unique_ptr<Optimizer> resumed = make({{"weight", weight_copy}, {"bias", bias_copy}});
    resumed->load_state(saved);
    CHECK(resumed->step_count() == 3);
    const NamedTensors reloaded = resumed->state();
    REQUIRE(reloaded.size() == saved.size());
    for (size_t i = 0; i < saved.size(); ++i) {
        CHECK(reloaded[i].first == saved[i].first);
        CHECK(bit_identical(reloaded[i].second, saved[i].second));
    }
    for (int i = 0; i < 2; ++i) one_step(*resumed, weight_copy, bias_copy);
    CHECK(resumed->step_count() == 5);
    CHECK(bit_identical(weight_copy, weight));
    CHECK(bit_identical(bias_copy, bias));
    const NamedTensors final_original = original->state();
    const NamedTensors final_resumed = resumed->state();
    for (size_t i = 0; i < final_original.size(); ++i) {
        CAPTURE(final_original[i].first);
        CHECK(bit_identical(final_resumed[i].second, final_original[i].second));
    }
}

TEST_CASE("state round trip: a resumed run is bit-identical") {
    SUBCASE("AdamW") {
        check_resume([](NamedTensors p) { return std::make_unique<AdamW>(std::move(p), 0.05, 0.9, 0.99, 1e-8, 0.1); });
    }
    SUBCASE("Adam") {
        check_resume([](NamedTensors p) { return std::make_unique<Adam>(std::move(p), 0.05, 0.9, 0.99, 1e-8, 0.1); });
    }
    SUBCASE("SGD with Nesterov momentum and weight decay") {
        check_resume([](NamedTensors p) { return std::make_unique<SGD>(std::move(p), 0.05, 0.9, 0, 0.1, true); });
    }
}

TEST_CASE("state: names, and load_state copies rather than shares") {
    Tensor weight = param({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor bias = param({1, 2, 3}, {3});
    AdamW adamw({{"weight", weight}, {"bias", bias}}, 0.1);
    std::vector<std::string> names;
    for (const auto& [name, t] : adamw.state()) names.push_back(name);
    CHECK(names == std::vector<std::string>{"step", "step.weight", "step.bias", "exp_avg.weight", "exp_avg.bias",
                                            "exp_avg_sq.weight", "exp_avg_sq.bias"});
    NamedTensors state = adamw.state();
    state_of(state, "exp_avg.weight").data()[0] = 7;
    check_values(state_of(adamw.state(), "exp_avg.weight"), {2, 3}, {0, 0, 0, 0, 0, 0});  // state() gave a copy
    adamw.load_state(state);
    state_of(state, "exp_avg.weight").data()[0] = 8;
    CHECK(state_of(adamw.state(), "exp_avg.weight").data()[0] == 7);  // load_state took a copy
}

TEST_CASE("load_state: a wrong name, shape or step throws naming both, and changes nothing") {
    Tensor weight = param({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor bias = param({1, 2, 3}, {3});
    AdamW adamw({{"weight", weight}, {"bias", bias}}, 0.1);
    set_grad(weight, {1, 1, 1, 1, 1, 1});
    set_grad(bias, {1, 1, 1});
    adamw.step();
    const NamedTensors good = adamw.state();
    const auto with = [&](const std::string& name, const std::string& new_name, const Tensor& value) {
        NamedTensors state = good;
        for (auto& [state_name, t] : state)
            if (state_name == name) {
                state_name = new_name;
                if (value.defined()) t = value;
            }
        return state;
    };
    // A misspelt name: both the unexpected and the missing name.
    std::string message = thrown_message([&] { adamw.load_state(with("exp_avg.weight", "exp_avg.wieght", {})); });
    CHECK(contains(message, "AdamW"));
    CHECK(contains(message, "'exp_avg.wieght'"));
    CHECK(contains(message, "'exp_avg.weight'"));
    // A wrong shape: both shapes and the name.
    message = thrown_message([&] { adamw.load_state(with("exp_avg_sq.weight", "exp_avg_sq.weight", Tensor::zeros({3, 2}))); });
    CHECK(contains(message, "'exp_avg_sq.weight'"));
    CHECK(contains(message, "(3, 2)"));
    CHECK(contains(message, "(2, 3)"));
    // Steps that are not whole numbers, or a parameter with more steps than the optimizer.
    message = thrown_message([&] { adamw.load_state(with("step", "step", Tensor::scalar(2.5))); });
    CHECK(contains(message, "'step'"));
    CHECK(contains(message, "2.5"));
    message = thrown_message([&] { adamw.load_state(with("step.bias", "step.bias", Tensor::scalar(4))); });
    CHECK(contains(message, "'step.bias' = 4"));
    CHECK(contains(message, "'step' = 1"));
    // An SGD state in an AdamW: the missing buffers and the unexpected one.
    SGD sgd({{"weight", weight}, {"bias", bias}}, 0.1, 0.9);
    message = thrown_message([&] { adamw.load_state(sgd.state()); });
    CHECK(contains(message, "'momentum_buffer.bias'"));
    CHECK(contains(message, "missing 'exp_avg.bias'"));
    // A name given twice.
    NamedTensors doubled = good;
    doubled.push_back(good[0]);
    CHECK(contains(thrown_message([&] { adamw.load_state(doubled); }), "twice"));
    // Nothing changed.
    const NamedTensors after = adamw.state();
    for (size_t i = 0; i < good.size(); ++i) CHECK(bit_identical(after[i].second, good[i].second));
}

// ---- bad arguments ------------------------------------------------------------------------------------------

TEST_CASE("bad hyper-parameters throw naming the value") {
    const auto params = [] { return NamedTensors{{"weight", param({1, 2}, {1, 2})}}; };
    std::string message = thrown_message([&] { SGD(params(), -0.1); });
    CHECK(contains(message, "SGD: lr"));
    CHECK(contains(message, "-0.1"));
    CHECK(contains(thrown_message([&] { SGD(params(), 0.1, -0.9); }), "momentum must be a finite number >= 0, got -0.9"));
    CHECK(contains(thrown_message([&] { SGD(params(), 0.1, 0.9, -1); }), "dampening must be a finite number >= 0, got -1"));
    CHECK(contains(thrown_message([&] { SGD(params(), 0.1, 0, 0, -0.5); }), "weight_decay must be a finite number >= 0, got -0.5"));
    message = thrown_message([&] { SGD(params(), 0.1, 0, 0, 0, true); });
    CHECK(contains(message, "nesterov"));
    CHECK(contains(message, "momentum 0"));
    CHECK(contains(thrown_message([&] { SGD(params(), 0.1, 0.9, 0.5, 0, true); }), "dampening 0.5"));
    CHECK(contains(thrown_message([&] { Adam(params(), 0.1, 1.0); }), "Adam: beta1 must be in [0, 1), got 1"));
    CHECK(contains(thrown_message([&] { Adam(params(), 0.1, 0.9, -0.1); }), "beta2 must be in [0, 1), got -0.1"));
    CHECK(contains(thrown_message([&] { Adam(params(), 0.1, 0.9, 0.999, -1e-8); }), "eps must be a finite number >= 0, got -1e-08"));
    CHECK(contains(thrown_message([&] { AdamW(params(), 0.1, 0.9, 0.999, 1e-8, -0.01); }), "AdamW: weight_decay"));
    CHECK(contains(thrown_message([&] { AdamW(params(), std::nan("")); }), "AdamW: lr"));
    AdamW adamw(params(), 0.1);
    CHECK(contains(thrown_message([&] { adamw.set_lr(-2); }), "got -2"));
    CHECK(adamw.lr() == doctest::Approx(0.1));
}

TEST_CASE("bad parameter lists throw naming the parameter") {
    CHECK(contains(thrown_message([] { SGD({}, 0.1); }), "empty parameter list"));
    Tensor p = param({1, 2}, {2});
    CHECK(contains(thrown_message([&] { SGD({{"a", p}, {"a", param({1}, {1})}}, 0.1); }), "two parameters are named 'a'"));
    const std::string same = thrown_message([&] { SGD({{"a", p}, {"b", p}}, 0.1); });
    CHECK(contains(same, "'a'"));
    CHECK(contains(same, "'b'"));
    CHECK(contains(thrown_message([&] { SGD({{"a", Tensor()}}, 0.1); }), "'a' is an undefined tensor"));
    const std::string non_leaf = thrown_message([&] { SGD({{"doubled", p * 2}}, 0.1); });
    CHECK(contains(non_leaf, "'doubled'"));
    CHECK(contains(non_leaf, "(2,)"));
}
