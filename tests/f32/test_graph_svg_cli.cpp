// `patchgrad graph` as SVG (examples/cli/graph.cpp, core/graph_svg.cpp): --out x.svg chooses SVG, --format
// svg asks for it; the tiny ViT's training graph (63 tensors, as --help says) is drawn, well-formed, one box
// per tensor; a graph above kMaxSvgTensors is refused with a usage error (exit code 2) naming the count and
// the limit, before anything is written (docs/seeing_inside.md quotes the message); --format dot keeps the
// DOT of before.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/seeing_inside.h"
#include "tests/helpers.h"
#include "tests/run_command.h"
#include "tests/temp_files.h"
#include "tests/xml_check.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::TempDir, testing::run_command, testing::xml_error, testing::count_class;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// The text of the UsageError `patchgrad graph WORDS...` throws, or "" when it throws none.
std::string usage_error(std::vector<std::string> words) {
    words.insert(words.begin(), {"patchgrad", "graph"});
    try {
        run_command(run_graph, words);
    } catch (const UsageError& error) {
        return error.what();
    }
    return "";
}

}  // namespace

TEST_CASE("graph --format svg: the tiny ViT's training graph, one box per tensor") {
    TempDir dir;
    const std::string inferred = dir.file("vit.svg"), asked = dir.file("vit.picture");
    CHECK(run_command(run_graph, {"patchgrad", "graph", "--model", "vit", "--tiny", "--out", inferred}) == 0);
    CHECK(run_command(run_graph,
                      {"patchgrad", "graph", "--model", "vit", "--tiny", "--format", "svg", "--out", asked}) == 0);
    const std::string svg = read_text(inferred);
    CHECK(read_text(asked) == svg);
    CHECK(svg == training_graph_loss(tiny_config("vit")).to_svg());  // deterministic, and the library's picture
    CHECK(xml_error(svg) == "");
    CHECK(contains(svg, "<title>autograd graph: 63 tensors</title>"));  // the count --help quotes
    CHECK(count_class(svg, "tensor") == 63);
    CHECK(count_class(svg, "edge") >= 62);  // connected: every tensor but the loss feeds some op
    for (const char* op : {">parameter</text>", ">input</text>", ">linear</text>", ">layer_norm</text>",
                           ">cross_entropy</text>"})
        CHECK_MESSAGE(contains(svg, op), op);
}

TEST_CASE("graph --help: tells what --format does and the limit, and the tiny ViT's count is true") {
    std::vector<std::string> words{"patchgrad", "graph", "--help"};
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    std::ostringstream captured;
    std::streambuf* previous = std::cout.rdbuf(captured.rdbuf());
    run_graph(static_cast<int>(argv.size()), argv.data());
    std::cout.rdbuf(previous);
    const std::string help = captured.str();
    CHECK(contains(help, "--format dot|svg"));
    CHECK(contains(help, "svg when --out ends in .svg, else dot"));
    CHECK(contains(help, "at most " + std::to_string(kMaxSvgTensors) + " tensors (--model vit --tiny has 63)"));
    CHECK(count_class(training_graph_loss(tiny_config("vit", "mnist")).to_svg(), "tensor") == 63);
}

TEST_CASE("graph --format svg: a graph too large to read is refused, naming its size and the limit") {
    TempDir dir;
    const std::string out = dir.file("swin.svg");
    const std::string message = usage_error({"--model", "swin", "--tiny", "--out", out});
    CHECK(contains(message, "patchgrad graph: the tiny swin's graph has 150 tensors"));
    CHECK(contains(message, "more than the " + std::to_string(kMaxSvgTensors)));
    CHECK(contains(message, "--format dot"));
    CHECK_FALSE(std::filesystem::exists(out));  // refused before anything is written
    CHECK_MESSAGE(contains(read_text("docs/seeing_inside.md"), "    " + message + "\n"),
                  "docs/seeing_inside.md does not quote the message: ", message);
    CHECK(contains(usage_error({"--model", "vit", "--format", "svg"}), "the vit's graph has 158 tensors"));
    // the same graphs as DOT are fine, whatever the file is called
    CHECK(run_command(run_graph,
                      {"patchgrad", "graph", "--model", "swin", "--tiny", "--format", "dot", "--out", out}) == 0);
    CHECK(read_text(out).rfind("digraph autograd {\n", 0) == 0);
    CHECK(contains(usage_error({"--format", "png"}), "--format expects one of dot, svg, got 'png'"));
}
