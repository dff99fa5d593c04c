// Tensor::to_dot (core/graph_dot.cpp): the autograd graph as Graphviz DOT. A small expression gives exactly
// the expected nodes, labels and edges, numbered deterministically (inputs before the ops that use them); a
// tensor used twice is one node; a graph 20,000 ops deep is walked without recursion; after a backward that
// freed the graph only the output is left. The tiny models' graphs are checked in tests/f32/test_seeing_inside.cpp.
#include <string>

#include "tests/helpers.h"

using namespace patchgrad;

TEST_CASE("to_dot: a small expression, node by node and edge by edge") {
    Tensor a = random_tensor({2, 3}, 1);                          // parameter (requires grad)
    Tensor b = random_tensor({3, 4}, 2, /*requires_grad=*/false);  // input
    Tensor m = matmul(a, b);                                      // (2, 4)
    Tensor p = m * tanh(m);                                       // m is used by tanh and by mul
    Tensor loss = sum(p);                                         // ()
    // The search finishes a, b, m, tanh, mul, sum in that order: those are n0 .. n5.
    const std::string expected =
        "digraph autograd {\n"
        "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
        "  n0 [label=\"parameter\\n(2, 3)\", shape=ellipse, style=filled, fillcolor=\"#cfe2ff\"];\n"
        "  n1 [label=\"input\\n(3, 4)\", shape=ellipse, style=filled, fillcolor=\"#e9ecef\"];\n"
        "  n2 [label=\"matmul\\n(2, 4)\"];\n"
        "  n3 [label=\"tanh\\n(2, 4)\"];\n"
        "  n4 [label=\"mul\\n(2, 4)\"];\n"
        "  n5 [label=\"sum\\n()\", style=\"filled,bold\", fillcolor=\"#ffd8a8\"];\n"
        "  n0 -> n2;\n"
        "  n1 -> n2;\n"
        "  n2 -> n3;\n"
        "  n2 -> n4;\n"
        "  n3 -> n4;\n"
        "  n4 -> n5;\n"
        "}\n";
    CHECK(loss.to_dot() == expected);
    CHECK(loss.to_dot() == expected);  // the same text every time
}

TEST_CASE("to_dot: a tensor used twice by one op is one node with two edges") {
    Tensor x = random_tensor({5}, 3);
    Tensor y = x * x;
    const std::string dot = y.to_dot();
    CHECK(contains(dot, "  n0 [label=\"parameter\\n(5,)\""));
    CHECK(contains(dot, "  n1 [label=\"mul\\n(5,)\""));
    CHECK(contains(dot, "  n0 -> n1;\n  n0 -> n1;\n"));
    CHECK(!contains(dot, "n2"));
}

TEST_CASE("to_dot: a leaf alone, and a graph after backward freed it") {
    Tensor w = random_tensor({2, 2}, 4);
    CHECK(contains(w.to_dot(), "n0 [label=\"parameter\\n(2, 2)\""));
    CHECK(contains(random_tensor({3}, 5, false).to_dot(), "n0 [label=\"input\\n(3,)\""));

    Tensor loss = sum(w * 2.0);
    CHECK(contains(loss.to_dot(), "n1 -> n2;"));
    loss.backward();  // frees the op's inputs: nothing is left to draw but the output
    const std::string after = loss.to_dot();
    CHECK(contains(after, "n0 [label=\"sum\\n()\""));
    CHECK(!contains(after, "->"));
}

TEST_CASE("to_dot: a chain 20,000 ops deep is walked without recursion") {
    Tensor x = random_tensor({1}, 6);
    Tensor y = x;
    for (int i = 0; i < 20000; ++i) y = y * 1.0;
    const std::string dot = y.to_dot();
    CHECK(contains(dot, "  n20000 [label=\"mul_scalar\\n(1,)\""));
    CHECK(contains(dot, "  n19999 -> n20000;\n"));
}
