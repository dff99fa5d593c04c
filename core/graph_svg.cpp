// Tensor::to_svg: the autograd graph behind a tensor as an SVG picture, with each tensor's numbers, drawn
// with the standard library alone (no Graphviz). docs/autograd.md shows one; `patchgrad graph --format svg`
// writes one for a tiny model.
//
//     L.backward(/*retain_graph=*/true);   // keep the graph: a plain backward frees its edges as it goes
//     std::ofstream("graph.svg") << L.to_svg({{w, "w"}, {L, "L"}});
//
// The picture, top to bottom in the order the values were computed:
//   * one box per tensor, four lines: its name and the op that made it ("h = tanh", "w: parameter"), its
//     shape, its values and its gradient ("grad none" until a backward has left one); at most 4 numbers
//     per line, 6 significant digits, as std::cout prints them;
//   * rows by depth: a tensor made by an op sits one row below the lowest of its inputs, so every edge
//     points down; a leaf sits just above the first op that uses it (the target y of a loss next to the
//     prediction, not at the top with the parameters, where its edge would cross the picture);
//   * within a row, tensors left to right in the order the search finishes them (to_dot's n0, n1, ...),
//     the row centred;
//   * one arrow per (input, op) pair, into the op's box at one port per input, so d * d shows two arrows;
//   * colours as in to_dot: parameters blue, inputs grey, the tensor drawn from orange; a legend below.
// The same graph gives the same bytes: integer coordinates, numbers printed with std::to_chars.
//
// Why here, next to to_dot, and not with the pictures of examples/cli/svg.h: the library (libpatchgrad)
// does not contain the command line's files, and a program under examples/ links the library alone. Here,
// any program in either flavour (the float64 worked example of docs/autograd.md included) can draw its
// graph. The little SVG it needs (boxes, text, curves, escaping) is written out below instead.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <unordered_map>

#include "core/io/xml.h"
#include "tensor.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// ---- the words in a box ----------------------------------------------------------------------------------

// 6 significant digits, as std::cout prints a number by default: 0.761594, -0.0568373, 1, 1e-07.
std::string format_value(Scalar value) {
    char text[32];
    const auto [end, error] = std::to_chars(text, text + sizeof text, value, std::chars_format::general, 6);
    return error == std::errc() ? std::string(text, end) : "?";
}

// "0.5" for one number, "[0.5, 0.25]" for several, "[1, 2, 3, 4, ...]" beyond four.
std::string format_values(const Scalar* values, int64_t count) {
    if (count == 1) return format_value(values[0]);
    std::string text = "[";
    for (int64_t i = 0; i < std::min<int64_t>(count, 4); ++i) text += (i ? ", " : "") + format_value(values[i]);
    return text + (count > 4 ? ", ...]" : "]");
}

// The four lines of a tensor's box.
std::vector<std::string> box_lines(const TensorImpl& tensor, const std::string& name) {
    const int64_t count = numel_of(tensor.shape);
    std::string title;
    if (tensor.grad_fn) {
        title = name.empty() ? tensor.grad_fn->op_name : name + " = " + tensor.grad_fn->op_name;
    } else {
        const std::string kind = tensor.requires_grad ? "parameter" : "input";
        title = name.empty() ? kind : name + ": " + kind;
    }
    const std::string grad = tensor.grad.defined() ? format_values(tensor.grad.data(), count) : "none";
    return {title, "shape " + to_string(tensor.shape), "data " + format_values(tensor.storage->data, count),
            "grad " + grad};
}

// ---- sizes, in pixels ------------------------------------------------------------------------------------

constexpr int kFontSize = 12;       // a monospace font, so a line's width is its length times kCharWidth
constexpr double kCharWidth = 7.3;  // DejaVu Sans Mono's advance is 0.602 em; a little more for others
constexpr int kLineHeight = 16;
constexpr int kPadding = 8;         // between a box's edge and its text
constexpr int kBoxHeight = 4 * kLineHeight + 2 * kPadding - 4;  // four lines; the last needs no gap below
constexpr int kGapX = 24;           // between two boxes of a row
constexpr int kGapY = 44;           // between two rows: room for the arrows
constexpr int kMargin = 16;

// One tensor's place in the picture.
struct Box {
    std::vector<std::string> lines;
    size_t row = 0;  // depth: every input of an op sits in a row above it
    int x = 0, y = 0;  // the top-left corner
};

const char* fill_colour(const TensorImpl& tensor, bool is_root) {
    if (is_root) return "#ffd8a8";
    if (tensor.grad_fn) return "#ffffff";
    return tensor.requires_grad ? "#cfe2ff" : "#e9ecef";
}

}  // namespace

std::string Tensor::to_svg(const std::vector<std::pair<Tensor, std::string>>& names) const {
    const std::vector<const TensorImpl*> order = graph_in_finish_order();  // inputs before their ops
    check(order.size() <= kMaxSvgTensors, "to_svg: the graph has ", order.size(), " tensors, more than the ",
          kMaxSvgTensors, " a picture can show legibly; draw it with to_dot() and Graphviz instead");
    std::unordered_map<const TensorImpl*, size_t> id;  // tensor -> its index in `order`
    for (size_t i = 0; i < order.size(); ++i) id[order[i]] = i;
    std::unordered_map<const TensorImpl*, std::string> name_of;
    for (const auto& [tensor, name] : names)
        if (tensor.defined()) name_of[tensor.impl_.get()] = name;

    // Rows. An op: one below its lowest input, counting leaves as row 0 (inputs come first in `order`).
    // Then a leaf moves down to just above its first user: every edge still points down.
    std::vector<Box> boxes(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
        const TensorImpl& tensor = *order[i];
        const auto name = name_of.find(&tensor);
        boxes[i].lines = box_lines(tensor, name == name_of.end() ? "" : name->second);
        if (!tensor.grad_fn) continue;
        for (const Tensor& input : tensor.grad_fn->inputs)
            if (input.defined()) boxes[i].row = std::max(boxes[i].row, boxes[id.at(input.impl_.get())].row + 1);
    }
    std::vector<size_t> leaf_row(order.size(), SIZE_MAX);  // the row above the first user, for each leaf
    for (size_t i = 0; i < order.size(); ++i) {
        if (!order[i]->grad_fn) continue;
        for (const Tensor& input : order[i]->grad_fn->inputs) {
            if (!input.defined() || input.impl_->grad_fn) continue;
            size_t& row = leaf_row[id.at(input.impl_.get())];
            row = std::min(row, boxes[i].row - 1);
        }
    }
    for (size_t i = 0; i < order.size(); ++i)
        if (leaf_row[i] != SIZE_MAX) boxes[i].row = leaf_row[i];

    // Every box as wide as the widest line needs; each row centred.
    size_t longest = 0;
    for (const Box& box : boxes)
        for (const std::string& line : box.lines) longest = std::max(longest, line.size());
    const int box_width = static_cast<int>(std::ceil(static_cast<double>(longest) * kCharWidth)) + 2 * kPadding;
    size_t rows = 0;
    for (const Box& box : boxes) rows = std::max(rows, box.row + 1);
    std::vector<std::vector<size_t>> row_members(rows);  // box indices, in finish order
    for (size_t i = 0; i < boxes.size(); ++i) row_members[boxes[i].row].push_back(i);
    size_t widest_row = 0;
    for (const auto& members : row_members) widest_row = std::max(widest_row, members.size());
    const auto row_width = [&](size_t count) { return static_cast<int>(count) * (box_width + kGapX) - kGapX; };

    const std::vector<std::pair<const char*, const char*>> legend = {
        {"#cfe2ff", "parameter: a leaf that requires grad"},
        {"#e9ecef", "input: a leaf that does not"},
        {"#ffffff", "made by an op"},
        {"#ffd8a8", "the tensor the graph is drawn from"}};
    size_t legend_longest = 0;
    for (const auto& [colour, words] : legend) legend_longest = std::max(legend_longest, std::string(words).size());
    const int legend_width = kLineHeight + static_cast<int>(std::ceil(static_cast<double>(legend_longest) * kCharWidth));
    const int graph_width = std::max(row_width(widest_row), legend_width);
    const int graph_height = static_cast<int>(rows) * (kBoxHeight + kGapY) - kGapY;
    const int width = graph_width + 2 * kMargin;
    const int height = graph_height + 2 * kMargin + kGapY / 2 + static_cast<int>(legend.size()) * kLineHeight;
    for (size_t row = 0; row < rows; ++row) {
        const int left = kMargin + (graph_width - row_width(row_members[row].size())) / 2;
        for (size_t k = 0; k < row_members[row].size(); ++k) {
            Box& box = boxes[row_members[row][k]];
            box.x = left + static_cast<int>(k) * (box_width + kGapX);
            box.y = kMargin + static_cast<int>(row) * (kBoxHeight + kGapY);
        }
    }

    std::ostringstream svg;
    svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
        << "\" viewBox=\"0 0 " << width << " " << height << "\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, "
        << "monospace\" font-size=\"" << kFontSize << "\">\n"
        << "  <title>autograd graph: " << order.size() << " tensors</title>\n"
        << "  <defs>\n"
        << "    <marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
        << "markerHeight=\"7\" orient=\"auto\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555555\"/></marker>\n"
        << "  </defs>\n"
        << "  <rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height << "\" fill=\"#ffffff\"/>\n";

    // Edges first, so that the boxes are drawn over them: from the bottom middle of the input's box to a
    // port on the top of the op's box (one port per input: for inputs a, b the ports sit at 1/3 and 2/3).
    for (size_t i = 0; i < order.size(); ++i) {
        const Node* node = order[i]->grad_fn.get();
        if (!node) continue;
        const int ports = static_cast<int>(node->inputs.size());
        for (int port = 0; port < ports; ++port) {
            const Tensor& input = node->inputs[static_cast<size_t>(port)];
            if (!input.defined()) continue;
            const Box& from = boxes[id.at(input.impl_.get())];
            const int x1 = from.x + box_width / 2, y1 = from.y + kBoxHeight;
            const int x2 = boxes[i].x + box_width * (port + 1) / (ports + 1), y2 = boxes[i].y;
            const int bend = (y2 - y1) / 2;  // vertical tangents at both ends: an S-curve
            svg << "  <path class=\"edge\" d=\"M " << x1 << " " << y1 << " C " << x1 << " " << y1 + bend << " " << x2
                << " " << y2 - bend << " " << x2 << " " << y2 << "\" fill=\"none\" stroke=\"#555555\" "
                << "stroke-width=\"1.2\" marker-end=\"url(#arrow)\"/>\n";
        }
    }
    for (size_t i = 0; i < order.size(); ++i) {
        const Box& box = boxes[i];
        svg << "  <g class=\"tensor\">\n"
            << "    <rect x=\"" << box.x << "\" y=\"" << box.y << "\" width=\"" << box_width << "\" height=\""
            << kBoxHeight << "\" rx=\"4\" fill=\"" << fill_colour(*order[i], i + 1 == order.size())
            << "\" stroke=\"#555555\"/>\n";
        for (size_t line = 0; line < box.lines.size(); ++line)
            svg << "    <text x=\"" << box.x + kPadding << "\" y=\""
                << box.y + kPadding + kFontSize + static_cast<int>(line) * kLineHeight - 2 << "\""
                << (line == 0 ? " font-weight=\"bold\"" : "") << ">" << xml_escape(box.lines[line]) << "</text>\n";
        svg << "  </g>\n";
    }
    const int legend_top = kMargin + graph_height + kGapY / 2;
    for (size_t k = 0; k < legend.size(); ++k) {
        const int y = legend_top + static_cast<int>(k) * kLineHeight;
        svg << "  <rect x=\"" << kMargin << "\" y=\"" << y << "\" width=\"" << kLineHeight - 4 << "\" height=\""
            << kLineHeight - 4 << "\" fill=\"" << legend[k].first << "\" stroke=\"#555555\"/>\n"
            << "  <text x=\"" << kMargin + kLineHeight + 2 << "\" y=\"" << y + kLineHeight - 5 << "\">"
            << legend[k].second << "</text>\n";
    }
    svg << "</svg>\n";
    return svg.str();
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
