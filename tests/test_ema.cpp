// The exponential moving average of the weights (optim/ema.h): updates worked out by hand, the decay's
// warm-up, swapping the averages in and out (by hand and with the guard), checkpoint state, and refusals.
#include <cmath>
#include <stdexcept>

#include "nn/linear.h"
#include "optim/adam.h"
#include "optim/ema.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

void set_values(Tensor t, const std::vector<Scalar>& values) {
    REQUIRE(static_cast<size_t>(t.numel()) == values.size());
    for (size_t i = 0; i < values.size(); ++i) t.data()[i] = values[i];
}

// The tensor named `name` in a state() list.
Tensor state_of(const NamedTensors& state, const std::string& name) {
    for (const auto& [state_name, t] : state)
        if (state_name == name) return t;
    FAIL("no state named ", name);
    return Tensor();
}

// A Linear(2 -> 1) with weight (1, 2) = (1, 2) and bias (1) = (4): named "weight" and "bias".
struct TinyModel {
    Rng rng{0};
    Linear fc{2, 1, rng};
    TinyModel() {
        set_values(fc.weight, {1, 2});
        set_values(fc.bias, {4});
    }
};

}  // namespace

TEST_CASE("ExponentialMovingAverage: three updates by hand, the decay warmed up and then capped") {
    TinyModel model;
    ExponentialMovingAverage ema(model.fc.named_parameters(), 0.5);  // averages start at (1, 2) and (4)
    // step 1: d = min(0.5, 2/11) = 2/11.  The optimizer moved the weights to (3, 6), the bias to -7:
    //   weight 2/11 (1, 2) + 9/11 (3, 6) = (29/11, 58/11);   bias 2/11 * 4 + 9/11 * -7 = -55/11 = -5
    set_values(model.fc.weight, {3, 6});
    set_values(model.fc.bias, {-7});
    ema.update(1);
    check_values(state_of(ema.state(), "ema.weight"), {1, 2}, {29.0 / 11, 58.0 / 11}, 1e-12);
    check_values(state_of(ema.state(), "ema.bias"), {1}, {-5}, 1e-12);
    // step 2: d = min(0.5, 3/12) = 1/4.  Weights (5, 10), bias -5:
    //   weight (29/44 + 15/4, 58/44 + 30/4) = (97/22, 97/11);   bias -5/4 - 15/4 = -5
    set_values(model.fc.weight, {5, 10});
    set_values(model.fc.bias, {-5});
    ema.update(2);
    check_values(state_of(ema.state(), "ema.weight"), {1, 2}, {97.0 / 22, 97.0 / 11}, 1e-12);
    check_values(state_of(ema.state(), "ema.bias"), {1}, {-5}, 1e-12);
    // step 100: (1 + 100) / (10 + 100) = 0.918 > 0.5, so d = 0.5.  Weights (0, 0), bias 1:
    //   weight (97/44, 97/22);   bias -5/2 + 1/2 = -2
    set_values(model.fc.weight, {0, 0});
    set_values(model.fc.bias, {1});
    ema.update(100);
    check_values(state_of(ema.state(), "ema.weight"), {1, 2}, {97.0 / 44, 97.0 / 22}, 1e-12);
    check_values(state_of(ema.state(), "ema.bias"), {1}, {-2}, 1e-12);
    check_values(model.fc.bias, {1}, {1});  // the model's own weights are only read
}

TEST_CASE("ExponentialMovingAverage: the warm-up of the decay, min(decay, (1 + t) / (10 + t))") {
    TinyModel model;
    const ExponentialMovingAverage half(model.fc.named_parameters(), 0.5);
    CHECK(half.decay_at(0) == doctest::Approx(0.1).epsilon(1e-15));
    CHECK(half.decay_at(1) == doctest::Approx(2.0 / 11).epsilon(1e-15));
    CHECK(half.decay_at(7) == doctest::Approx(8.0 / 17).epsilon(1e-15));
    CHECK(half.decay_at(8) == 0.5);  // 9/18: the warm-up meets the decay at t = (10 d - 1) / (1 - d) = 8
    CHECK(half.decay_at(1000000) == 0.5);
    const ExponentialMovingAverage slow(model.fc.named_parameters(), 0.999);
    CHECK(slow.decay_at(8989) < 0.999);  // 8990/8999
    CHECK(slow.decay_at(8990) == doctest::Approx(0.999).epsilon(1e-15));
    CHECK(slow.decay_at(100000) == 0.999);

    // What the warm-up is for: a weight that starts at 1 and is 0 after every step. With decay 0.9999
    // alone, 10 updates would leave 0.9999^10 = 0.999 of the initial value in the average; warmed up, it
    // keeps (2/11)(3/12)...(11/20) = 10! 11! / 20! = 5.95e-5 of it.
    Tensor w = Tensor::ones({1}).requires_grad_();
    ExponentialMovingAverage ema({{"w", w}}, 0.9999);
    w.data()[0] = 0;
    for (int64_t step = 1; step <= 10; ++step) ema.update(step);
    const double kept = 3628800.0 * 39916800.0 / 2432902008176640000.0;  // 10! 11! / 20!
    CHECK(state_of(ema.state(), "ema.w").item() == doctest::Approx(kept).epsilon(1e-12));

    // decay 0 follows the weights exactly.
    ExponentialMovingAverage none({{"w", w}}, 0.0);
    w.data()[0] = 3.5;
    none.update(50);
    CHECK(state_of(none.state(), "ema.w").item() == 3.5);
}

TEST_CASE("ExponentialMovingAverage: swap_with_model puts the average in the model; twice is the identity") {
    TinyModel model;
    ExponentialMovingAverage ema(model.fc.named_parameters(), 0.5);
    set_values(model.fc.weight, {3, 6});
    set_values(model.fc.bias, {-7});
    ema.update(1);  // averages (29/11, 58/11) and -5, as in the test above
    const NamedTensors averages = ema.state();

    ema.swap_with_model();
    CHECK(ema.swapped());
    CHECK(model.fc.weight.to_vector() == state_of(averages, "ema.weight").to_vector());  // in place: same handle
    CHECK(model.fc.bias.to_vector() == state_of(averages, "ema.bias").to_vector());
    const Tensor x = Tensor::from_vector({1, 1}, {1, 2});
    check_values(model.fc.forward(x), {1, 1}, {87.0 / 11 - 5}, 1e-12);  // the averaged model computes
    CHECK(state_of(ema.state(), "ema.weight").to_vector() == state_of(averages, "ema.weight").to_vector());

    ema.swap_with_model();  // and back: the model's own numbers, bit for bit, and the averages too
    CHECK_FALSE(ema.swapped());
    CHECK(model.fc.weight.to_vector() == std::vector<Scalar>{3, 6});
    CHECK(model.fc.bias.to_vector() == std::vector<Scalar>{-7});
    CHECK(state_of(ema.state(), "ema.weight").to_vector() == state_of(averages, "ema.weight").to_vector());
}

TEST_CASE("AveragedWeightsGuard: the averages for the guard's lifetime, the weights back after, even on a throw") {
    TinyModel model;
    ExponentialMovingAverage ema(model.fc.named_parameters(), 0.5);
    set_values(model.fc.weight, {3, 6});
    ema.update(1);  // weight average (29/11, 58/11)
    {
        AveragedWeightsGuard averaged(ema);
        CHECK(ema.swapped());
        check_values(model.fc.weight, {1, 2}, {29.0 / 11, 58.0 / 11}, 1e-12);
        CHECK(contains(thrown_message([&] { AveragedWeightsGuard again(ema); }), "swapped in already"));
        CHECK(contains(thrown_message([&] { ema.update(2); }), "swap them back first"));
        CHECK(contains(thrown_message([&] { ema.load_state(ema.state()); }), "swap them back first"));
    }
    CHECK_FALSE(ema.swapped());
    CHECK(model.fc.weight.to_vector() == std::vector<Scalar>{3, 6});
    try {
        AveragedWeightsGuard averaged(ema);
        throw std::runtime_error("evaluation failed");
    } catch (const std::runtime_error&) {
    }
    CHECK_FALSE(ema.swapped());
    CHECK(model.fc.weight.to_vector() == std::vector<Scalar>{3, 6});
}

TEST_CASE("ExponentialMovingAverage: beside AdamW, the guard evaluates the averaged weights and training goes on") {
    Rng rng(1);
    Linear fc(3, 2, rng);
    AdamW optimizer(fc.named_parameters(), 0.1);
    ExponentialMovingAverage ema(fc.named_parameters(), 0.9);
    const Tensor x = random_tensor({4, 3}, 2, false), targets = Tensor::from_vector({0, 1, 1, 0}, {4});
    for (int i = 0; i < 5; ++i) {
        optimizer.zero_grad();
        cross_entropy(fc.forward(x), targets).backward();
        optimizer.step();
        ema.update(optimizer.step_count());
    }
    const std::vector<Scalar> trained = fc.weight.to_vector();
    CHECK(state_of(ema.state(), "ema.weight").to_vector() != trained);  // the average lags behind
    Tensor averaged_logits;
    {
        AveragedWeightsGuard averaged(ema);
        averaged_logits = fc.forward(x);
    }
    Linear copy(3, 2, rng);  // the same layer, loaded with the averages by hand
    set_values(copy.weight, state_of(ema.state(), "ema.weight").to_vector());
    set_values(copy.bias, state_of(ema.state(), "ema.bias").to_vector());
    check_close(averaged_logits, copy.forward(x), 0);
    CHECK(fc.weight.to_vector() == trained);
    optimizer.zero_grad();
    cross_entropy(fc.forward(x), targets).backward();
    optimizer.step();  // the optimizer's handles were never replaced: it still moves the model
    CHECK(fc.weight.to_vector() != trained);
}

TEST_CASE("ExponentialMovingAverage: the same numbers on 1 thread and on 2") {
    const auto run = [] {
        Tensor w = random_tensor({256, 256}, 3);  // 65,536 numbers: enough to run in parallel
        ExponentialMovingAverage ema({{"w", w}}, 0.99);
        for (int64_t step = 1; step <= 3; ++step) {
            for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] += Scalar(0.01) * static_cast<Scalar>(step);
            ema.update(step);
        }
        ema.swap_with_model();
        return w.to_vector();
    };
    CHECK(with_threads(1, run) == with_threads(2, run));
}

TEST_CASE("ExponentialMovingAverage: state round trip, under the names ema.<param>, copied not shared") {
    TinyModel model;
    ExponentialMovingAverage ema(model.fc.named_parameters(), 0.5);
    set_values(model.fc.weight, {3, 6});
    ema.update(1);
    NamedTensors state = ema.state();
    REQUIRE(state.size() == 2);
    CHECK(state[0].first == "ema.weight");
    CHECK(state[1].first == "ema.bias");
    const Scalar saved = state[0].second.data()[0];
    state[0].second.data()[0] = 100;  // a copy: the EMA's own average is untouched
    CHECK(state_of(ema.state(), "ema.weight").data()[0] == saved);
    state[0].second.data()[0] = saved;

    TinyModel other;  // a fresh EMA over a model of the same names and shapes
    ExponentialMovingAverage resumed(other.fc.named_parameters(), 0.5);
    resumed.load_state(state);
    for (const auto& [name, t] : ema.state()) CHECK(state_of(resumed.state(), name).to_vector() == t.to_vector());
    state[1].second.data()[0] = 9;  // loading copied the numbers
    CHECK(state_of(resumed.state(), "ema.bias").item() == 4);
    // Both continue alike.
    set_values(model.fc.weight, {0, 1});
    set_values(other.fc.weight, {0, 1});
    ema.update(2);
    resumed.update(2);
    for (const auto& [name, t] : ema.state()) CHECK(state_of(resumed.state(), name).to_vector() == t.to_vector());
}

TEST_CASE("ExponentialMovingAverage: a bad decay, step, parameter list or state is refused, naming it") {
    TinyModel model;
    const NamedTensors params = model.fc.named_parameters();
    CHECK(thrown_message([&] { ExponentialMovingAverage(params, 1.0); }) ==
          "ExponentialMovingAverage: decay must be in [0, 1), got 1");
    CHECK(contains(thrown_message([&] { ExponentialMovingAverage(params, -0.5); }), "got -0.5"));
    CHECK(contains(thrown_message([&] { ExponentialMovingAverage(params, std::nan("")); }), "decay must be in [0, 1)"));
    CHECK(contains(thrown_message([&] { ExponentialMovingAverage({}, 0.9); }), "empty parameter list"));
    CHECK(contains(thrown_message([&] { ExponentialMovingAverage({params[0], {"again", params[0].second}}, 0.9); }),
                   "'weight' and 'again' are the same tensor"));
    CHECK(contains(thrown_message([&] { ExponentialMovingAverage({params[0], {"weight", params[1].second}}, 0.9); }),
                   "two parameters are named 'weight'"));

    ExponentialMovingAverage ema(params, 0.9);
    CHECK(thrown_message([&] { ema.update(-1); }) == "ExponentialMovingAverage: step must be >= 0, got -1");
    const NamedTensors good = ema.state();
    const std::string missing = thrown_message([&] { ema.load_state({good[0]}); });
    CHECK(contains(missing, "missing 'ema.bias'"));
    const std::string unknown = thrown_message([&] {
        ema.load_state({good[0], good[1], {"exp_avg.weight", Tensor::zeros({1, 2})}});
    });
    CHECK(contains(unknown, "unexpected 'exp_avg.weight'"));
    CHECK(contains(unknown, "another model"));
    const std::string shape = thrown_message([&] { ema.load_state({{"ema.weight", Tensor::zeros({2, 1})}, good[1]}); });
    CHECK(shape == "ExponentialMovingAverage: load_state: 'ema.weight' has shape (2, 1) but parameter 'weight' has "
                   "shape (1, 2)");
    CHECK(contains(thrown_message([&] { ema.load_state({good[0], good[0], good[1]}); }), "names 'ema.weight' twice"));
    // Nothing changed: a refused load leaves the averages as they were.
    for (const auto& [name, t] : ema.state()) CHECK(t.to_vector() == state_of(good, name).to_vector());
}
