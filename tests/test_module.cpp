// Module (nn/module.h): registration, dotted names in registration order, parameter_count, zero_grad,
// train/eval recursion and the registration errors. Uses small modules defined here.
#include <string>
#include <vector>

#include "nn/module.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// A leaf module with two parameters and a buffer, like a Linear with a saved table.
class Leaf : public Module {
public:
    Leaf(int64_t in, int64_t out) {
        weight = register_parameter("weight", Tensor::ones({out, in}));
        bias = register_parameter("bias", Tensor::zeros({out}));
        register_buffer("index", Tensor::arange(out));
    }
    Tensor weight, bias;
};

// Two levels of nesting: Outer { scale, first: Leaf, inner: Inner { second: Leaf, gain } }.
class Inner : public Module {
public:
    Inner() : second(3, 2) {
        register_module("second", second);
        gain = register_parameter("gain", Tensor::ones({2}));
    }
    Leaf second;
    Tensor gain;
};

class Outer : public Module {
public:
    Outer() : first(4, 3) {
        scale = register_parameter("scale", Tensor::full({1}, 2));
        register_module("first", first);
        register_module("inner", inner);
    }
    Tensor scale;
    Leaf first;
    Inner inner;
};

// Exposes the protected register_* calls so the errors can be tested.
class Open : public Module {
public:
    using Module::register_buffer;
    using Module::register_module;
    using Module::register_parameter;
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
    std::vector<std::string> names;
    for (const auto& [name, tensor] : named) names.push_back(name);
    return names;
}

}  // namespace

TEST_CASE("Module: named_parameters lists dotted names depth first, in registration order") {
    Outer model;
    // Own parameters first, then each child's in the order the children were registered; inside Inner
    // the child "second" was registered before the parameter "gain", but own parameters still come first.
    const std::vector<std::string> expected = {"scale",       "first.weight",        "first.bias",
                                               "inner.gain", "inner.second.weight", "inner.second.bias"};
    CHECK(names_of(model.named_parameters()) == expected);
    CHECK(names_of(model.named_buffers()) == std::vector<std::string>{"first.index", "inner.second.index"});
    // The registry holds the very handles the members hold: an in-place update is seen by both.
    const auto named = model.named_parameters();
    CHECK(named[1].second.same(model.first.weight));
    CHECK(named[4].second.same(model.inner.second.weight));
    const std::vector<Tensor> params = model.parameters();
    REQUIRE(params.size() == 6);
    CHECK(params[0].same(model.scale));
    for (const Tensor& p : params) CHECK(p.requires_grad());  // register_parameter turns it on
}

TEST_CASE("Module: parameter_count sums the elements of every parameter") {
    Outer model;
    // scale 1 + first (3*4 + 3) + inner.gain 2 + inner.second (2*3 + 2) = 1 + 15 + 2 + 8 = 26
    CHECK(model.parameter_count() == 26);
    CHECK(model.inner.parameter_count() == 10);
    CHECK(Open().parameter_count() == 0);
}

TEST_CASE("Module: zero_grad drops the gradient of every parameter, nested ones too") {
    Outer model;
    Tensor loss = sum(model.scale) + sum(model.first.weight) + sum(model.inner.second.bias * model.inner.gain);
    loss.backward();
    for (const Tensor& p : {model.scale, model.first.weight, model.inner.gain, model.inner.second.bias})
        CHECK(p.grad().defined());
    model.zero_grad();
    for (const Tensor& p : model.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("Module: train() and eval() reach every sub-module") {
    Outer model;
    CHECK(model.is_training());  // modules start in training mode, as in PyTorch
    model.eval();
    CHECK_FALSE(model.is_training());
    CHECK_FALSE(model.first.is_training());
    CHECK_FALSE(model.inner.second.is_training());
    model.train();
    CHECK(model.inner.second.is_training());
    model.inner.eval();  // a sub-tree alone
    CHECK(model.is_training());
    CHECK(model.first.is_training());
    CHECK_FALSE(model.inner.is_training());
    CHECK_FALSE(model.inner.second.is_training());
}

TEST_CASE("Module: registration errors name the offending name") {
    Open m;
    Leaf child(1, 1);
    const std::string dotted = thrown_message([&] { m.register_parameter("a.b", Tensor::ones({1})); });
    CHECK(contains(dotted, "'a.b'"));
    CHECK(contains(thrown_message([&] { m.register_parameter("", Tensor::ones({1})); }), "parameter name ''"));
    CHECK(contains(thrown_message([&] { m.register_buffer("x.y", Tensor::ones({1})); }), "'x.y'"));
    CHECK(contains(thrown_message([&] { m.register_module("blocks.0", child); }), "'blocks.0'"));
    // A parameter must be a leaf: the output of an op has a history, and an optimizer cannot own it.
    Tensor leaf = Tensor::ones({2}).requires_grad_();
    const std::string non_leaf = thrown_message([&] { m.register_parameter("w", leaf * 2.0); });
    CHECK(contains(non_leaf, "'w'"));
    CHECK(contains(non_leaf, "leaf"));
    CHECK(contains(thrown_message([&] { m.register_parameter("u", Tensor()); }), "'u'"));
    CHECK(m.named_parameters().empty());  // nothing half-registered
    // A name is registered once: a second "weight" would make two state_dict entries of the same name.
    m.register_parameter("weight", Tensor::ones({1}));
    const std::string twice = thrown_message([&] { m.register_parameter("weight", Tensor::ones({1})); });
    CHECK(contains(twice, "'weight' is already registered"));
    CHECK(contains(thrown_message([&] { m.register_module("weight", child); }), "already registered"));
    CHECK(m.named_parameters().size() == 1);
}
