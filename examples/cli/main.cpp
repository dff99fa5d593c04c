// build/patchgrad: the command line. Each subcommand lives in its own file in examples/cli/ (declared in
// commands.h); this file reads the first word and hands over. A usage mistake prints one line and exits
// with code 2; any other error prints one line and exits with code 1.
#include <exception>
#include <iostream>
#include <string>

#include "examples/cli/args.h"
#include "examples/cli/commands.h"

namespace {

constexpr const char* kVersion = "0.1.0";

struct Command {
    const char* name;
    int (*run)(int argc, char** argv);
    const char* summary;
};

// One line per subcommand: its name, its function and what it does.
constexpr Command kCommands[] = {
    {"train", patchgrad::cli::run_train, "train a ViT or Swin on CIFAR-10 / MNIST, with checkpoints and --resume"},
    {"eval", patchgrad::cli::run_eval, "a checkpoint's test accuracy, per-class accuracy and confusion matrix"},
    {"predict", patchgrad::cli::run_predict, "top-5 classes of a PPM/PGM image or a test example"},
    {"bench", patchgrad::cli::run_bench, "training-step and inference speed of a model, in key=value form"},
    {"gradcheck", patchgrad::cli::run_gradcheck, "gradient checks of the ops, layers and models, as a table"},
    {"attention", patchgrad::cli::run_attention, "a PNG of a ViT's or Swin's attention over one image"},
    {"graph", patchgrad::cli::run_graph, "the autograd graph of one training step, as Graphviz DOT or SVG"},
    {"export", patchgrad::cli::run_export, "a checkpoint's weights alone, under timm's names, for PyTorch"},
    {"import", patchgrad::cli::run_import, "weights under timm's names into a checkpoint for eval/predict/train"},
    {"explain", patchgrad::cli::run_explain, "SVG pictures of patches, windows, the shift and mask, merging"},
    {"plot", patchgrad::cli::run_plot, "a run's metrics.csv as an SVG: loss, accuracy and learning rate per epoch"},
};

void print_usage() {
    std::cout << "patchgrad: a from-scratch deep-learning framework that trains vision transformers on the CPU\n\n"
                 "usage: patchgrad COMMAND [OPTIONS]     (patchgrad COMMAND --help for its options)\n\n"
                 "commands:\n";
    for (const Command& command : kCommands) {
        const std::string name = command.name;
        std::cout << "  " << name << std::string(name.size() < 12 ? 12 - name.size() : 1, ' ') << command.summary
                  << "\n";
    }
    std::cout << "  help        this text\n  version     the version\n";
}

}  // namespace

int main(int argc, char** argv) {
    const std::string word = argc > 1 ? argv[1] : "help";
    try {
        if (word == "help" || word == "--help" || word == "-h") {
            print_usage();
            return 0;
        }
        if (word == "version" || word == "--version") {
            std::cout << "patchgrad " << kVersion << "\n";
            return 0;
        }
        for (const Command& command : kCommands)
            if (word == command.name) return command.run(argc, argv);
        std::cerr << "patchgrad: unknown command '" << patchgrad::cli::printable(word) << "' (see 'patchgrad help')\n";
        return 2;
    } catch (const patchgrad::cli::UsageError& error) {  // messages quote names from files: escaped, cut
        std::cerr << patchgrad::cli::error_line(error.what()) << "\n";
        return 2;
    } catch (const std::exception& error) {
        std::cerr << "patchgrad " << patchgrad::cli::printable(word) << ": " << patchgrad::cli::error_line(error.what())
                  << "\n";
        return 1;
    }
}
