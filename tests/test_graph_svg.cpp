// Tensor::to_svg (core/graph_svg.cpp): the autograd graph as an SVG picture. The document is well-formed
// XML; every tensor is one box with its op, shape, values and grad, and every (input, op) pair one arrow;
// rows follow depth with each leaf just above its first user; names and numbers are escaped and
// shortened; the same graph gives the same bytes; and a graph with more than kMaxSvgTensors tensors is
// refused with both numbers in the message. The worked example's picture (docs/img/autograd-graph.svg)
// is checked in tests/test_autograd_by_hand.cpp, the command line's in tests/f32/test_graph_svg_cli.cpp.
#include <algorithm>
#include <string>
#include <vector>

#include "tests/helpers.h"
#include "tests/xml_check.h"

using namespace patchgrad;
using testing::xml_error, testing::count_tags, testing::count_class, testing::attribute_values;

namespace {

// The y coordinate of the box whose first line is `title` ("" when there is none).
std::string box_top(const std::string& svg, const std::string& title) {
    const size_t text = svg.find("font-weight=\"bold\">" + title + "</text>");
    if (text == std::string::npos) return "";
    const size_t rect = svg.rfind("<rect x=\"", text);
    const size_t y = svg.find(" y=\"", rect) + 4;
    return svg.substr(y, svg.find('"', y) - y);
}

}  // namespace

TEST_CASE("to_svg: a small expression, box by box and arrow by arrow") {
    Tensor a = Tensor::from_vector({1, -2, 3}, {3}).requires_grad_();  // parameter
    Tensor b = Tensor::from_vector({0.5, 0.5, 0.5}, {3});             // input
    Tensor m = a * b;                                                  // mul  [0.5, -1, 1.5]
    Tensor loss = sum(m * m);                                          // m used twice by one op: 3.5
    const std::string svg = loss.to_svg();
    CHECK(xml_error(svg) == "");
    CHECK(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
    CHECK(contains(svg, "<title>autograd graph: 5 tensors</title>"));
    CHECK(count_class(svg, "tensor") == 5);  // a, b, a * b, m * m, sum
    CHECK(count_class(svg, "edge") == 5);    // a -> mul, b -> mul, m -> mul twice, mul -> sum
    for (const char* line : {">parameter</text>", ">input</text>", ">mul</text>", ">sum</text>", ">shape (3,)</text>",
                             ">shape ()</text>", ">data [1, -2, 3]</text>", ">data [0.5, -1, 1.5]</text>",
                             ">data 3.5</text>"})
        CHECK_MESSAGE(contains(svg, line), line);
    CHECK(contains(svg, ">grad none</text>"));  // no backward yet
    CHECK(!contains(svg, ">grad ["));
    // the two arrows of m * m end at two different ports of the same box
    const std::vector<std::string> paths = attribute_values(svg, "path", "d");
    std::vector<std::string> edges;
    for (const std::string& d : paths)
        if (d.rfind("M ", 0) == 0 && contains(d, " C ")) edges.push_back(d.substr(d.rfind(' ', d.rfind(' ') - 1) + 1));
    REQUIRE(edges.size() == 5);
    std::sort(edges.begin(), edges.end());
    CHECK(std::adjacent_find(edges.begin(), edges.end()) == edges.end());  // no two arrows share an end point
    CHECK(loss.to_svg() == svg);  // the same bytes every time
}

TEST_CASE("to_svg: rows by depth, a leaf just above its first user, the output orange") {
    Tensor w = Tensor::scalar(2).requires_grad_();
    Tensor target = Tensor::scalar(1);
    Tensor error = tanh(tanh(w * 3)) - target;  // target is first used three rows below w
    const std::string svg = error.to_svg({{w, "w"}, {target, "target"}, {error, "error"}});
    CHECK(xml_error(svg) == "");
    const std::string w_top = box_top(svg, "w: parameter"), target_top = box_top(svg, "target: input");
    REQUIRE(!w_top.empty());
    CHECK(w_top == "16");                                           // the first row
    CHECK(box_top(svg, "mul_scalar") == std::to_string(16 + 1 * (76 + 44)));
    CHECK(target_top == std::to_string(16 + 3 * (76 + 44)));        // beside the second tanh, not at the top
    CHECK(box_top(svg, "error = sub") == std::to_string(16 + 4 * (76 + 44)));
    CHECK(count_tags(svg, "rect") == 1 + 6 + 4);  // the background, six boxes, the legend's four swatches
    CHECK(contains(svg, "fill=\"#cfe2ff\" stroke"));  // w, a parameter
    CHECK(contains(svg, "fill=\"#ffd8a8\" stroke"));  // error, the tensor drawn from
}

TEST_CASE("to_svg: grads after a backward, long tensors shortened, names escaped") {
    Tensor x = Tensor::arange(6).requires_grad_();  // [0, 1, 2, 3, 4, 5]
    Tensor y = sum(x * 0.5);
    y.backward(/*retain_graph=*/true);  // keeps the edges; x keeps its grad, the intermediates do not
    const std::string svg = y.to_svg({{x, "x<&>"}});
    CHECK(xml_error(svg) == "");
    CHECK(contains(svg, ">x&lt;&amp;&gt;: parameter</text>"));
    CHECK(contains(svg, ">data [0, 1, 2, 3, ...]</text>"));           // at most four numbers
    CHECK(contains(svg, ">grad [0.5, 0.5, 0.5, 0.5, ...]</text>"));
    CHECK(contains(svg, ">grad none</text>"));                       // x * 0.5: freed after it flowed on
    CHECK(contains(svg, ">data 7.5</text>"));
    CHECK(count_class(svg, "edge") == 2);
}

TEST_CASE("to_svg: a leaf alone is one box") {
    Tensor w = Tensor::from_vector({1.5, 2}, {2});
    const std::string svg = w.to_svg({{w, "w"}});
    CHECK(xml_error(svg) == "");
    CHECK(count_class(svg, "tensor") == 1);
    CHECK(count_class(svg, "edge") == 0);
    CHECK(contains(svg, ">w: input</text>"));
}

TEST_CASE("to_svg: a graph of more than kMaxSvgTensors tensors is refused, naming both numbers") {
    Tensor x = Tensor::scalar(1).requires_grad_();
    Tensor y = x;
    for (size_t i = 1; i < kMaxSvgTensors; ++i) y = y * 1.0;  // x and kMaxSvgTensors - 1 ops
    const std::string largest = y.to_svg();
    CHECK(xml_error(largest) == "");
    CHECK(count_class(largest, "tensor") == kMaxSvgTensors);
    Tensor one_more = y * 1.0;
    const std::string message = thrown_message([&] { one_more.to_svg(); });
    CHECK(contains(message, "to_svg: the graph has " + std::to_string(kMaxSvgTensors + 1) + " tensors"));
    CHECK(contains(message, "more than the " + std::to_string(kMaxSvgTensors)));
    CHECK(contains(message, "to_dot"));
    CHECK_THROWS_AS(one_more.to_svg(), std::invalid_argument);
}
