// patchgrad graph: the autograd graph of one training step of a ViT or Swin, as Graphviz DOT or, when it
// is small enough to read, as an SVG picture drawn by patchgrad itself.
//
//   patchgrad graph --model vit --tiny --out vit.dot && dot -Tsvg vit.dot -o vit.svg
//   patchgrad graph --model vit --tiny --out vit.svg          # no Graphviz needed: 63 tensors
//
// Builds the model (the reference config of CIFAR-10, or with --tiny a very small one), runs one forward
// pass and a cross-entropy loss on a random batch of 2 images, and writes loss.to_dot() (core/graph_dot.cpp):
// one node per tensor, labelled with the op that made it and its shape; or loss.to_svg()
// (core/graph_svg.cpp), which adds each tensor's first numbers. An SVG is refused, naming the count, when
// the graph has more than kMaxSvgTensors tensors (the tiny ViT's fits; the tiny Swin's 150 do not).
// docs/seeing_inside.md shows how to read them.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/ops.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/seeing_inside.h"

namespace patchgrad::cli {

TrainConfig tiny_config(const std::string& model, const std::string& dataset) {
    TrainConfig c = default_config(model, dataset);
    const bool grey = dataset != "cifar10";
    c.threads = 1;
    c.seed = 3;
    if (model == "vit") {
        c.patch = grey ? 7 : 8;  // a 4 x 4 grid of patches
        c.dim = 16;
        c.depth = 2;
        c.heads = 2;
        c.mlp_dim = 32;
        c.mlp_ratio = 2;
        c.pool = "cls";    // the reference ViT's head: the pictures and graphs of docs/seeing_inside.md show it,
        c.stem = "patch";  // and its patch embedding
    } else {
        c.patch = grey ? 2 : 4;  // 8 x 8 tokens (MNIST: 14 x 14)
        c.embed_dim = 8;
        c.depths = {2, 2};
        c.swin_heads = {1, 2};
        c.window = grey ? 7 : 4;  // stage 0: 4 windows and a shifted block; stage 1: one window
        c.stem = "patch";         // the patch embedding of the reference Swin, as for the ViT
    }
    validate(c);
    return c;
}

Tensor training_graph_loss(const TrainConfig& config) {
    Rng rng(static_cast<uint64_t>(config.seed));
    std::unique_ptr<ImageClassifier> model = build_model(config, rng);
    model->train();
    const Tensor images = Tensor::normal({2, config.channels, config.image_size, config.image_size}, 0, 1, rng);
    const Tensor labels = Tensor::from_vector({0, static_cast<Scalar>(config.num_classes - 1)}, {2});
    const Tensor logits = model->forward(images, rng);
    const Scalar smoothing = static_cast<Scalar>(config.label_smoothing);
    return config.kernels == Kernels::reference ? cross_entropy_reference(logits, labels, smoothing)
                                                : cross_entropy(logits, labels, smoothing);
}  // the model goes, its parameters stay: the graph's nodes hold them

std::string training_graph_dot(const TrainConfig& config) { return training_graph_loss(config).to_dot(); }

int run_graph(int argc, char** argv) {
    std::string model = "vit", dataset = "cifar10", out, format;
    bool tiny = false, reference = false;
    const std::string summary =
        "The autograd graph of one training step (forward + cross-entropy on a random batch of 2):\n"
        "one node per tensor, labelled with the op that made it and its shape. As Graphviz DOT\n"
        "(render it with: dot -Tsvg FILE.dot -o FILE.svg), or as an SVG drawn by patchgrad, with\n"
        "each tensor's first values, for graphs of at most " + std::to_string(kMaxSvgTensors) +
        " tensors (--model vit --tiny has 63).";
    ArgParser args("patchgrad graph", summary);
    args.option("--model", &model, "the architecture", {"vit", "swin"});
    args.option("--dataset", &dataset, "whose image size and channels", {"cifar10", "mnist", "fashion-mnist"});
    args.flag("--tiny", &tiny, "a very small model (2 blocks), whose graph fits on a screen");
    args.option("--format", &format, "what to write (default: svg when --out ends in .svg, else dot)", {"dot", "svg"});
    args.option("--out", &out, "the file (default: standard output)");
    args.flag("--reference", &reference, "the textbook twins' graph: every layer op by op (a bigger graph)");
    if (!args.parse(argc, argv)) return 0;
    if (format.empty()) format = out.ends_with(".svg") ? "svg" : "dot";

    TrainConfig config = tiny ? tiny_config(model, dataset) : default_config(model, dataset);
    config.kernels = reference ? Kernels::reference : Kernels::fast;
    const Tensor loss = training_graph_loss(config);
    const std::string dot = loss.to_dot();
    size_t nodes = 0, edges = 0;  // one line per node ("n3 [label=...]") and per edge ("n1 -> n3;")
    std::istringstream lines(dot);
    for (std::string line; std::getline(lines, line);) {
        if (line.find(" -> ") != std::string::npos) ++edges;
        else if (line.find("[label=") != std::string::npos) ++nodes;
    }
    if (format == "svg" && nodes > kMaxSvgTensors)
        throw UsageError(args.command() + ": the " + (tiny ? "tiny " : "") + model + "'s graph has " +
                         std::to_string(nodes) + " tensors, more than the " + std::to_string(kMaxSvgTensors) +
                         " an SVG can show legibly; use --format dot (and Graphviz), or --model vit --tiny");
    const std::string text = format == "svg" ? loss.to_svg() : dot;
    if (out.empty()) {
        std::fputs(text.c_str(), stdout);
        return 0;
    }
    std::ofstream file(out, std::ios::binary);
    file << text;
    file.close();
    check_io(file.good(), "cannot write ", out);
    if (format == "svg")
        std::printf("wrote %s: %zu tensors, %zu edges\n", out.c_str(), nodes, edges);
    else
        std::printf("wrote %s: %zu tensors, %zu edges (render: dot -Tsvg %s -o graph.svg)\n", out.c_str(), nodes,
                    edges, out.c_str());
    return 0;
}

}  // namespace patchgrad::cli
