// Tensor::to_dot: the autograd graph behind a tensor as Graphviz DOT, to look at (docs/seeing_inside.md).
//
//     Tensor loss = cross_entropy(model.forward(images, rng), labels);
//     std::ofstream("graph.dot") << loss.to_dot();          // then: dot -Tsvg graph.dot -o graph.svg
//
// One node per tensor, one edge per (input -> output) of a recorded op:
//   * a tensor made by an op is labelled with the op's name and its shape:    "matmul\n(2, 4)"
//   * a leaf (no recorded op) is "parameter" when it requires grad, else "input":   "parameter\n(3, 4)"
// A tensor used by several ops is one node with several outgoing edges; an op that takes the same tensor
// twice (x * x) gets two edges from it. The walk (graph_in_finish_order, below; to_svg uses it too) is
// backward's own (core/tensor.cpp, Autograd::topological_order): an iterative depth-first search from this
// tensor through each op's inputs, in the order the op lists them, with an explicit stack (a graph 100k
// ops deep is fine). Nodes are numbered in the order the search finishes them (inputs before the ops
// that use them; this tensor last), so the same computation always gives the same text. Unlike backward,
// the walk also visits inputs that do not require grad (images, labels, masks): they are part of the
// picture.
//
// backward() without retain_graph frees each op's inputs as it goes: call to_dot before backward (or
// after backward(true)), or the graph will have lost its edges.
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "tensor.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

std::string node_label(const TensorImpl& tensor) {
    const std::string name = tensor.grad_fn ? tensor.grad_fn->op_name : tensor.requires_grad ? "parameter" : "input";
    return name + "\\n" + to_string(tensor.shape);  // "\\n": DOT's line break inside a label
}

std::string node_style(const TensorImpl& tensor, bool is_root) {
    if (is_root) return ", style=\"filled,bold\", fillcolor=\"#ffd8a8\"";
    if (tensor.grad_fn) return "";
    return tensor.requires_grad ? ", shape=ellipse, style=filled, fillcolor=\"#cfe2ff\""
                                : ", shape=ellipse, style=filled, fillcolor=\"#e9ecef\"";
}

}  // namespace

std::vector<const TensorImpl*> Tensor::graph_in_finish_order() const {
    // Depth-first search with an explicit stack; a tensor is finished once all its inputs are.
    std::vector<const TensorImpl*> order;
    std::unordered_set<const TensorImpl*> seen;
    struct Frame {
        const TensorImpl* tensor;
        size_t next_input;
    };
    std::vector<Frame> stack{{&impl(), 0}};
    seen.insert(&impl());
    while (!stack.empty()) {
        Frame& frame = stack.back();
        const Node* node = frame.tensor->grad_fn.get();
        if (node && frame.next_input < node->inputs.size()) {
            const Tensor& input = node->inputs[frame.next_input++];
            if (input.defined() && seen.insert(input.impl_.get()).second)
                stack.push_back({input.impl_.get(), 0});  // invalidates `frame`; the loop re-reads it
        } else {
            order.push_back(frame.tensor);
            stack.pop_back();
        }
    }
    return order;
}

std::string Tensor::to_dot() const {
    const std::vector<const TensorImpl*> order = graph_in_finish_order();  // order[id] is node "n<id>"
    std::unordered_map<const TensorImpl*, size_t> ids;                    // tensor -> id
    for (size_t id = 0; id < order.size(); ++id) ids[order[id]] = id;

    std::ostringstream dot;
    dot << "digraph autograd {\n"
        << "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n";
    for (size_t id = 0; id < order.size(); ++id)
        dot << "  n" << id << " [label=\"" << node_label(*order[id]) << "\""
            << node_style(*order[id], id + 1 == order.size()) << "];\n";
    for (size_t id = 0; id < order.size(); ++id) {
        const Node* node = order[id]->grad_fn.get();
        if (!node) continue;
        for (const Tensor& input : node->inputs)
            if (input.defined()) dot << "  n" << ids.at(input.impl_.get()) << " -> n" << id << ";\n";
    }
    dot << "}\n";
    return dot.str();
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
