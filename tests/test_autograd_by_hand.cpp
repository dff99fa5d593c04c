// docs/autograd.md's worked example (examples/autograd_by_hand.h), held to the chapter: the engine's values
// and gradients are the hand-derived formulas; the chapter quotes the program's output exactly and its
// hand-worked numbers are the engine's; the closures run in the order the chapter traces; d, used twice,
// gets both shares; a plain backward frees what the chapter says it frees; and docs/img/autograd-graph.svg
// is exactly what the program draws now (else: make figures).
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "examples/autograd_by_hand.h"
#include "tests/helpers.h"
#include "tests/xml_check.h"

using namespace patchgrad;
using namespace patchgrad::autograd_by_hand;
using testing::xml_error, testing::count_class;

namespace {

// Tests run from the repository root, as `make test` runs them.
std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    REQUIRE_MESSAGE(file.good(), "cannot open ", path, " (run the tests from the repository root)");
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// The text of docs/autograd.md from the heading `from` up to the heading `to`.
std::string chapter_between(const std::string& from, const std::string& to) {
    const std::string chapter = read_text("docs/autograd.md");
    const size_t begin = chapter.find(from), end = chapter.find(to);
    REQUIRE_MESSAGE(begin != std::string::npos, "docs/autograd.md has no heading '", from, "'");
    REQUIRE_MESSAGE(end != std::string::npos, "docs/autograd.md has no heading '", to, "'");
    REQUIRE(begin < end);
    return chapter.substr(begin, end - begin);
}

// A number as the chapter and the program print it: 6 significant digits.
std::string printed(double value) {
    std::ostringstream text;
    text << value;
    return text.str();
}

}  // namespace

TEST_CASE("autograd by hand: the engine's values and gradients are the formulas worked out by hand") {
    const Expression e = forward_and_backward();
    const double h = std::tanh(0.5 * 1 + 0.25 * 2);  // z = w . x = 1
    const double d = h - 1;
    check_values(e.p, {2}, {0.5, 0.5}, 0);
    check_values(e.z, {}, {1}, 0);
    check_values(e.h, {}, {h}, 1e-15);
    check_values(e.d, {}, {d}, 1e-15);
    check_values(e.L, {}, {d * d}, 1e-15);
    // backward, from L to w: each gradient is the one above it times a local derivative
    check_values(e.L.grad(), {}, {1}, 0);                            // dL/dL = 1, the seed
    check_values(e.d.grad(), {}, {2 * d}, 1e-15);                    // L = d * d: d + d
    check_values(e.h.grad(), {}, {2 * d}, 1e-15);                    // d = h - y: dd/dh = 1
    check_values(e.z.grad(), {}, {2 * d * (1 - h * h)}, 1e-15);      // h = tanh z: dh/dz = 1 - h^2
    check_values(e.p.grad(), {2}, {2 * d * (1 - h * h), 2 * d * (1 - h * h)}, 1e-15);  // dz/dp_i = 1
    check_values(e.w.grad(), {2}, {2 * d * (1 - h * h) * 1, 2 * d * (1 - h * h) * 2}, 1e-15);  // dp_i/dw_i = x_i
    CHECK_FALSE(e.x.grad().defined());  // inputs that do not require grad get none
    CHECK_FALSE(e.y.grad().defined());
}

TEST_CASE("autograd by hand: d is used twice by L = d * d, and its grad is the sum of both shares") {
    const Expression e = forward_and_backward();
    const double d = e.d.item();
    CHECK(e.d.grad().item() == doctest::Approx(d + d).epsilon(1e-15));  // dL/dd = 2d, not d
    // The same without the trick: pow(d, 2) has one edge and the local derivative 2d.
    Expression f = forward();
    Tensor squared = pow(f.d, 2);
    f.d.retain_grad();
    squared.backward();
    CHECK(f.d.grad().item() == doctest::Approx(e.d.grad().item()).epsilon(1e-15));
    CHECK(f.w.grad().to_vector() == e.w.grad().to_vector());
}

TEST_CASE("autograd by hand: the closures run from L back to w, in the order the chapter traces") {
    // The worked example's graph with closures that write down their name (and touch their inputs'
    // grads, so that the engine goes on to the next node).
    std::vector<std::string> ran;
    const auto op = [&ran](const char* name, std::vector<Tensor> inputs) {
        Tensor out = Tensor::zeros({});
        out.set_backward(name, inputs, [&ran, name, inputs](const Tensor&) {
            ran.push_back(name);
            for (const Tensor& input : inputs)
                if (input.requires_grad()) input.grad_data();
        });
        return out;
    };
    Tensor w = Tensor::zeros({2}).requires_grad_(), x = Tensor::zeros({2}), y = Tensor::zeros({});
    Tensor p = op("p", {w, x}), z = op("z", {p}), h = op("h", {z}), d = op("d", {h, y}), L = op("L", {d, d});
    L.backward();
    CHECK(ran == std::vector<std::string>{"L", "d", "h", "z", "p"});  // each exactly once, d's after both uses
    // to_dot numbers the tensors in the order the search finishes them: x and y included, w first.
    const std::string dot = forward().L.to_dot();
    std::vector<std::string> labels;
    std::istringstream lines(dot);
    for (std::string line; std::getline(lines, line);) {
        const size_t label = line.find("[label=\"");
        if (label != std::string::npos) labels.push_back(line.substr(label + 8, line.find("\\n") - label - 8));
    }
    CHECK(labels == std::vector<std::string>{"parameter", "input", "mul", "sum", "tanh", "input", "sub", "mul"});
}

TEST_CASE("autograd by hand: a plain backward keeps the leaves' grads and frees everything else") {
    Expression e = forward();
    e.L.backward();
    CHECK(e.w.grad().defined());
    for (const Tensor* intermediate : {&e.p, &e.z, &e.h, &e.d, &e.L}) CHECK_FALSE(intermediate->grad().defined());
    CHECK(!contains(e.L.to_dot(), "->"));  // the closures and their saved inputs are gone
    const std::string message = thrown_message([&] { e.L.backward(); });
    CHECK(contains(message, "second time"));
    CHECK(contains(message, "'mul'"));
    // With retain_graph a second backward runs, and the grads add up: twice the first.
    Expression kept = forward();
    kept.L.backward(/*retain_graph=*/true);
    const std::vector<Scalar> once = kept.w.grad().to_vector();
    kept.L.backward();
    check_values(kept.w.grad(), {2}, {2 * once[0], 2 * once[1]}, 1e-15);
}

TEST_CASE("autograd by hand: docs/autograd.md quotes exactly what the program prints") {
    const std::string output = report();
    CHECK(contains(output, "L       mul    ()     0.0568373       1\n"));
    CHECK(contains(output, "w = [0.520025, 0.29005], L = 0.0397828"));  // one step lowers the loss
    CHECK_MESSAGE(contains(read_text("docs/autograd.md"), output),
                  "docs/autograd.md does not quote the output of build/examples/autograd_by_hand_f64; it prints:\n",
                  output);
}

TEST_CASE("autograd by hand: every number the chapter works out by hand is the engine's") {
    const Expression e = forward_and_backward();
    const double h = e.h.item();
    const std::string by_hand = chapter_between("## 2. A worked example", "### The same numbers from the engine");
    const std::vector<double> numbers = {e.h.item(),        e.d.item(),           e.L.item(),
                                         e.d.grad().item(), e.h.grad().item(),    h * h,
                                         1 - h * h,         e.z.grad().item(),    e.p.grad().data()[0],
                                         e.w.grad().data()[0], e.w.grad().data()[1]};
    for (double number : numbers) CHECK_MESSAGE(contains(by_hand, printed(number)), printed(number));

    // the gradient step: w - 0.1 dL/dw raises z and h and lowers the loss
    const double w0 = 0.5 - 0.1 * e.w.grad().data()[0], w1 = 0.25 - 0.1 * e.w.grad().data()[1];
    const double z = w0 * 1 + w1 * 2, h_after = std::tanh(z);
    for (double number : {w0, w1, z, h_after, (h_after - 1) * (h_after - 1)})
        CHECK_MESSAGE(contains(by_hand, printed(number)), printed(number));
    CHECK((h_after - 1) * (h_after - 1) < e.L.item());
    // section 7 quotes the picture's limit
    CHECK(contains(read_text("docs/autograd.md"), "up to " + std::to_string(kMaxSvgTensors) + " tensors"));
}

TEST_CASE("autograd by hand: docs/img/autograd-graph.svg is what the program draws now") {
    const std::string path = "docs/img/autograd-graph.svg";
    CHECK_MESSAGE(read_text(path) == figure(), path, " differs from build/examples/autograd_by_hand_f64 --svg: "
                                                     "run make figures");
}

TEST_CASE("autograd by hand: the picture is well-formed and shows every tensor with its numbers") {
    const std::string svg = figure();
    CHECK(xml_error(svg) == "");
    CHECK(count_class(svg, "tensor") == 8);  // w, x, y, p, z, h, d, L
    CHECK(count_class(svg, "edge") == 8);    // w, x -> p -> z -> h; h, y -> d; d -> L twice
    for (const char* line :
         {">w: parameter</text>", ">x: input</text>", ">y: input</text>", ">p = mul</text>", ">z = sum</text>",
          ">h = tanh</text>", ">d = sub</text>", ">L = mul</text>", ">data [0.5, 0.25]</text>",
          ">grad [-0.200249, -0.400497]</text>", ">data [1, 2]</text>", ">data [0.5, 0.5]</text>",
          ">grad [-0.200249, -0.200249]</text>", ">data 0.761594</text>", ">grad -0.476812</text>",
          ">data -0.238406</text>", ">data 0.0568373</text>", ">grad 1</text>"})
        CHECK_MESSAGE(contains(svg, line), line);
}
