// Docs snippets never rot: every C++ block (```cpp) in docs/*.md and README.md quotes a file that
// `make test` compiles. Each such block is preceded by an HTML comment naming its source,
//
//     <!-- snippet: core/ops/softmax.cpp -->
//     ```cpp
//     ...lines of core/ops/softmax.cpp...
//     ```
//
// and its lines must appear in that file contiguously, in order, after removing the common indentation
// (a line "// ..." in a block stands for omitted lines). Pseudo-code and math use ```text, PyTorch code
// ```python: those are exempt. The usage examples of the docs that are not library code live at the end of
// this file as test cases, so they are compiled, run and checked too.
//
// The tests run from the repository root (as `make test` runs them), so paths are relative to it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "datasets/dataloader.h"
#include "nn/linear.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"
// README.md's tour of the API starts with these three lines:
#include "core/gradcheck.h"
#include "core/ops.h"
using namespace patchgrad;

namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
    std::ifstream file(path);
    REQUIRE_MESSAGE(file.good(), "cannot open ", path, " (run the tests from the repository root, as make does)");
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string trim(const std::string& s) {
    const size_t first = s.find_first_not_of(" \t"), last = s.find_last_not_of(" \t\r");
    return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}

// ---- reading the Markdown ----------------------------------------------------------------------------

// One ```cpp block of a Markdown file.
struct CodeBlock {
    int line = 0;                    // the opening fence's line, 1-based
    std::string source;              // the path of its <!-- snippet: PATH --> comment, "" without one
    std::vector<std::string> lines;  // the lines between the fences
};

bool is_cpp_language(const std::string& language) {
    return language == "cpp" || language == "c++" || language == "cc" || language == "h" || language == "hpp";
}

// "core/ops.h" from "<!-- snippet: core/ops.h -->", else "".
std::string snippet_source(const std::string& line) {
    const std::string text = trim(line), open = "<!-- snippet:", close = "-->";
    if (text.rfind(open, 0) != 0 || text.size() < open.size() + close.size() ||
        text.compare(text.size() - close.size(), close.size(), close) != 0)
        return "";
    return trim(text.substr(open.size(), text.size() - open.size() - close.size()));
}

// The C++ blocks of a Markdown text; the snippet comment is the last non-blank line before the fence.
std::vector<CodeBlock> cpp_blocks(const std::string& markdown) {
    const std::vector<std::string> lines = split_lines(markdown);
    std::vector<CodeBlock> blocks;
    bool in_fence = false, in_cpp = false;
    std::string last_text;  // the last non-blank line outside a fence
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string text = trim(lines[i]);
        if (text.rfind("```", 0) == 0) {
            if (in_fence) {
                in_fence = in_cpp = false;
            } else {
                in_fence = true;
                in_cpp = is_cpp_language(trim(text.substr(3)));
                if (in_cpp) blocks.push_back({static_cast<int>(i + 1), snippet_source(last_text), {}});
            }
            last_text = text;
        } else if (in_cpp) {
            blocks.back().lines.push_back(lines[i]);
        } else if (!in_fence && !text.empty()) {
            last_text = text;
        }
    }
    return blocks;
}

// ---- matching a block against its source ---------------------------------------------------------------

// The lines without their common indentation (blank lines do not count) and without trailing spaces.
std::vector<std::string> dedent(const std::vector<std::string>& lines) {
    size_t common = std::string::npos;
    for (const std::string& line : lines)
        if (!trim(line).empty()) common = std::min(common, line.find_first_not_of(' '));
    std::vector<std::string> out;
    for (const std::string& line : lines) {
        const std::string right_trimmed = line.substr(0, line.find_last_not_of(" \t\r") + 1);
        out.push_back(trim(line).empty() ? "" : right_trimmed.substr(common));
    }
    return out;
}

// The block cut at its "// ..." lines: each piece must appear in the source as it is, in order.
std::vector<std::vector<std::string>> pieces_of(const std::vector<std::string>& block) {
    std::vector<std::vector<std::string>> pieces(1);
    for (const std::string& line : block) {
        if (trim(line) == "// ...") {
            pieces.emplace_back();
        } else {
            pieces.back().push_back(line);
        }
    }
    for (auto& piece : pieces)  // blank lines at either end of a piece are layout, not quotation
        while (!piece.empty() && trim(piece.back()).empty()) piece.pop_back();
    for (auto& piece : pieces)
        while (!piece.empty() && trim(piece.front()).empty()) piece.erase(piece.begin());
    std::erase_if(pieces, [](const std::vector<std::string>& piece) { return piece.empty(); });
    return pieces;
}

// "" when every piece of `block` appears in `source` contiguously and in order (each compared after
// dedenting both), else the first line of the first piece that does not.
std::string first_unquoted_line(const std::vector<std::string>& block, const std::vector<std::string>& source) {
    size_t from = 0;
    for (const std::vector<std::string>& piece : pieces_of(block)) {
        const std::vector<std::string> wanted = dedent(piece);
        bool found = false;
        for (size_t start = from; !found && start + wanted.size() <= source.size(); ++start) {
            const std::vector<std::string> window(source.begin() + static_cast<std::ptrdiff_t>(start),
                                                  source.begin() + static_cast<std::ptrdiff_t>(start + wanted.size()));
            if (dedent(window) == wanted) {
                found = true;
                from = start + wanted.size();
            }
        }
        if (!found) return trim(piece.front());
    }
    return "";
}

// ---- what `make test` compiles -------------------------------------------------------------------------

// The folders whose *.cpp the Makefile compiles for `make test` (LIB_SRCS, CLI_SRCS, EXAMPLES, TEST_SRCS_*;
// the test "the Makefile still compiles the folders ..." keeps this list honest). tests/bench is not one.
const std::vector<std::string> kCompiledFolders = {"core",     "core/ops",     "core/io",           "nn",
                                                   "optim",    "datasets",     "examples",          "examples/cli",
                                                   "tests",    "tests/f32",    "examples/exercises", "examples/exercises/grading",
                                                   "examples/gradcheck"};

bool in_compiled_folder(const fs::path& path) {
    return std::find(kCompiledFolders.begin(), kCompiledFolders.end(), path.parent_path().generic_string()) !=
           kCompiledFolders.end();
}

// A .cpp in a compiled folder, or a .h there that some file of those folders #includes.
bool compiled_by_make_test(const std::string& path) {
    const fs::path p(path);
    if (!fs::is_regular_file(p) || !in_compiled_folder(p)) return false;
    if (p.extension() == ".cpp") return true;
    if (p.extension() != ".h") return false;
    const std::string by_path = "#include \"" + p.generic_string() + "\"";
    const std::string by_name = "#include \"" + p.filename().string() + "\"";  // from its own folder
    for (const std::string& folder : kCompiledFolders)
        for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
            const fs::path other = entry.path();
            if (other.extension() != ".cpp" && other.extension() != ".h") continue;
            const std::string text = read_text(other.string());
            if (contains(text, by_path) || (other.parent_path() == p.parent_path() && contains(text, by_name)))
                return true;
        }
    return false;
}

// "" when the block is a faithful quotation, else what is wrong with it.
std::string block_problem(const CodeBlock& block) {
    if (block.source.empty())
        return "has no <!-- snippet: PATH --> comment on the line before it (quote a compiled file, or use "
               "```text for pseudo-code and ```python for PyTorch)";
    if (!fs::is_regular_file(block.source)) return "names " + block.source + ", which does not exist";
    if (!compiled_by_make_test(block.source))
        return "names " + block.source + ", which `make test` does not compile (a .cpp, or an #included .h, under "
               "core/, nn/, optim/, datasets/, examples/ or tests/)";
    const std::string missing = first_unquoted_line(block.lines, split_lines(read_text(block.source)));
    if (!missing.empty())
        return "is not a quotation of " + block.source + ": the lines from \"" + missing +
               "\" do not appear there contiguously (copy them again, or mark omitted lines with \"// ...\")";
    return "";
}

std::vector<std::string> markdown_files() {
    std::vector<std::string> files{"README.md"};
    for (const fs::directory_entry& entry : fs::directory_iterator("docs"))
        if (entry.path().extension() == ".md") files.push_back(entry.path().generic_string());
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

// ---- the mechanism ---------------------------------------------------------------------------------------

TEST_CASE("doc snippets: the checker finds blocks, their sources, and catches a misquotation") {
    const std::string markdown = "Intro\n<!-- snippet: core/ops/softmax.cpp -->\n```cpp\n  a\n    b\n  // ...\n"
                                 "  d\n```\n\n```text\nnot C++\n```\n```cpp\nx\n```\n";
    const std::vector<CodeBlock> blocks = cpp_blocks(markdown);
    REQUIRE(blocks.size() == 2);
    CHECK(blocks[0].line == 3);
    CHECK(blocks[0].source == "core/ops/softmax.cpp");
    CHECK(blocks[0].lines == std::vector<std::string>{"  a", "    b", "  // ...", "  d"});
    CHECK(blocks[1].source == "");  // the ```text block between them is skipped, and is not "before" it
    CHECK(contains(block_problem(blocks[1]), "has no <!-- snippet: PATH --> comment"));

    const std::vector<std::string> source{"int f() {", "        a", "          b", "        c", "        d", "}"};
    CHECK(first_unquoted_line(blocks[0].lines, source) == "");                      // "// ..." skips c
    CHECK(first_unquoted_line({"a", "b", "d"}, source) == "a");                     // without it: not contiguous
    CHECK(first_unquoted_line({"d", "// ...", "a"}, source) == "a");                // order matters
    CHECK(first_unquoted_line({"a", "  b"}, source) == "");                         // relative indentation kept...
    CHECK(first_unquoted_line({"a", "b"}, source) == "a");                          // ...and checked
    CHECK(first_unquoted_line({"int f() {", "    a"}, source) == "int f() {");    // an extra indent is not
}

TEST_CASE("doc snippets: a source must exist and be compiled by make test") {
    CHECK(compiled_by_make_test("core/ops/softmax.cpp"));
    CHECK(compiled_by_make_test("examples/custom_op_f64.cpp"));
    CHECK(compiled_by_make_test("core/scalar.h"));        // #included as "scalar.h" from core/
    CHECK(compiled_by_make_test("nn/window.h"));
    CHECK_FALSE(compiled_by_make_test("tests/bench/bench_matmul.cpp"));  // built by `make bench` only
    CHECK_FALSE(compiled_by_make_test("tests/reference/make_reference.py"));
    CHECK_FALSE(compiled_by_make_test("core/no_such_file.cpp"));
    CHECK_FALSE(compiled_by_make_test("docs/README.md"));
    CodeBlock block{1, "tests/bench/bench_matmul.cpp", {"int main"}};
    CHECK(contains(block_problem(block), "which `make test` does not compile"));
    block.source = "core/nope.cpp";
    CHECK(block_problem(block) == "names core/nope.cpp, which does not exist");
    block.source = "core/scalar.h";
    block.lines = {"inline namespace PATCHGRAD_FLAVOUR {   // a comment the file does not have"};
    CHECK(contains(block_problem(block), "is not a quotation of core/scalar.h: the lines from \"inline namespace"));
    block.lines = {"inline namespace PATCHGRAD_FLAVOUR {"};
    CHECK(block_problem(block) == "");
}

TEST_CASE("doc snippets: the Makefile still compiles the folders this test trusts") {
    const std::string makefile = read_text("Makefile");
    CHECK(contains(makefile, "$(wildcard core/*.cpp core/ops/*.cpp core/io/*.cpp nn/*.cpp optim/*.cpp datasets/*.cpp)"));
    CHECK(contains(makefile, "$(wildcard examples/cli/*.cpp)"));
    CHECK(contains(makefile, "$(wildcard examples/*.cpp)"));
    CHECK(contains(makefile, "$(wildcard tests/*.cpp)"));
    CHECK(contains(makefile, "$(wildcard tests/f32/*.cpp)"));
}

TEST_CASE("doc snippets: every ```cpp block of docs/*.md and README.md quotes a file make test compiles") {
    int64_t checked = 0;
    for (const std::string& doc : markdown_files()) {
        for (const CodeBlock& block : cpp_blocks(read_text(doc))) {
            const std::string problem = block_problem(block);
            CHECK_MESSAGE(problem.empty(), doc, ":", block.line, ": the ```cpp block ", problem);
            ++checked;
        }
    }
    CHECK(checked >= 15);  // the docs quote code in at least this many places
}

// ---- the docs' usage examples, compiled and run ----------------------------------------------------------

namespace {

// A model with one Linear named "head", enough for the examples that need a model.
struct TinyModel : Module {
    explicit TinyModel(Rng& rng) : head(4, 2, rng) { register_module("head", head); }
    Tensor forward(const Tensor& x) const { return head.forward(x); }
    Linear head;
};

}  // namespace

TEST_CASE("README.md: the tour of the API runs and does what its comments say") {
    Rng rng(0);                                                  // all randomness is explicit and seeded
    Tensor x = Tensor::normal({8, 16}, 0, 1, rng);                // (B, C): 8 rows of 16 features
    Tensor w = Tensor::normal({16, 4}, 0, 0.1, rng).requires_grad_();
    Tensor b = Tensor::zeros({4}).requires_grad_();

    Tensor logits = matmul(x, w) + b;                             // (8, 4); b broadcasts over rows
    Tensor loss = mean(sum(pow(softmax(logits, -1), 2), -1));     // any scalar built from ops
    loss.backward();                                              // d loss / d w and d loss / d b
    Tensor dw = w.grad();                                         // (16, 4), accumulated (+=)

    {
        NoGradGuard no_grad;                                      // inference: no graph is recorded
        Tensor prediction = argmax(matmul(x, w) + b, -1);          // (8,)
        CHECK(prediction.shape() == Shape{8});
        CHECK_FALSE(prediction.requires_grad());
    }
    // Is a backward right? Compare it with central differences in float64 (tests/*.cpp do this for every op):
    GradcheckReport report =
        gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], -1); }, {x.requires_grad_()});
    CHECK(report.passed);
    CHECK(logits.shape() == Shape{8, 4});
    CHECK(dw.shape() == Shape{16, 4});
    CHECK(b.grad().shape() == Shape{4});
    const std::vector<Scalar> grads = dw.to_vector();
    CHECK(std::any_of(grads.begin(), grads.end(), [](Scalar g) { return std::abs(g) > 1e-4; }));
}

TEST_CASE("docs/tensor.md: creating tensors") {
    Rng rng(42);                                           // the only randomness: seeded, explicit
    Tensor w = Tensor::normal({128, 384}, 0, 0.02, rng);   // weights
    Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
    Tensor z = Tensor::zeros({2, 3}), r = Tensor::arange(10);
    CHECK(w.shape() == Shape{128, 384});
    Rng again(42);
    CHECK(Tensor::normal({128, 384}, 0, 0.02, again).to_vector() == w.to_vector());  // seeded: reproducible
    check_values(x, {2, 2}, {1, 2, 3, 4}, 0);
    check_values(z, {2, 3}, {0, 0, 0, 0, 0, 0}, 0);
    check_values(r, {10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0);
}

TEST_CASE("docs/checkpoint_format.md: save and load a model's named parameters") {
    testing::TempDir dir;
    const std::string path = dir.file("model.safetensors");
    Rng rng(1);
    TinyModel model(rng);
    save_safetensors(path, model.named_parameters(), {{"epoch", "3"}});
    SafetensorsFile file = load_safetensors(path);
    Tensor w = file.tensor("head.weight");               // error lists the names the file has
    check_close(w, model.head.weight, 0);
    REQUIRE(file.find_metadata("epoch") != nullptr);
    CHECK(*file.find_metadata("epoch") == "3");
    const std::string message = thrown_message([&] { file.tensor("head.wieght"); });
    CHECK(contains(message, "head.wieght"));
    CHECK(contains(message, "head.weight"));
}

TEST_CASE("docs/optimizers.md: the training step, as the chapter writes it, lowers the loss") {
    Rng rng(2);
    TinyModel model(rng);
    const Tensor images = Tensor::normal({32, 4}, 0, 1, rng);  // (B, 4): class 1 when the first feature > 0
    std::vector<Scalar> label_values;
    for (int64_t n = 0; n < 32; ++n) label_values.push_back(images.data()[n * 4] > 0 ? 1 : 0);
    const Tensor labels = Tensor::from_vector(label_values, {32});
    const int64_t total = 200, warmup = 10;
    const Scalar before = cross_entropy(model.forward(images), labels).item();
    AdamW optimizer(model.named_parameters(), 1e-3, 0.9, 0.999, 1e-8, 0.05);
    for (int64_t step = 0; step < total; ++step) {
        optimizer.set_lr(warmup_cosine_lr(step, warmup, total, 1e-3, 1e-5));
        optimizer.zero_grad();                       // drop last step's gradients
        Tensor loss = cross_entropy(model.forward(images), labels);
        loss.backward();                             // fill p.grad() for every parameter
        clip_grad_norm(model.parameters(), 1.0);     // optional: bound the gradient's length
        optimizer.step();                            // p <- p - (something) for every parameter
    }
    const Scalar after = cross_entropy(model.forward(images), labels).item();
    CHECK(before > 0.6);  // about log 2 = 0.693 for small initial weights
    CHECK(after < before - 0.05);  // measured: 0.705 -> 0.605
}

TEST_CASE("docs/data.md: the loaders and the epoch loop") {
    const auto dataset = [](int64_t count) {  // random CIFAR-10-shaped bytes
        ImageDataset data;
        data.count = count, data.channels = 3, data.height = 32, data.width = 32;
        Rng bytes(3);
        for (int64_t i = 0; i < count * data.image_size(); ++i) data.pixels.push_back(uint8_t(bytes.next_u64() % 256));
        for (int64_t n = 0; n < count; ++n) data.labels.push_back(uint8_t(n % 10));
        data.class_names = std::vector<std::string>(10, "class");
        return data;
    };
    const ImageDataset train_set = dataset(300), test_set = dataset(20);
    const uint64_t seed = 7;
    std::set<int64_t> seen;
    std::vector<int64_t> sizes;
    DataLoader train_loader(train_set, {.batch_size = 128, .shuffle = true, .random_crop = true,
                                        .horizontal_flip = true, .normalization = cifar10_normalization()});
    DataLoader test_loader(test_set, {.batch_size = 500, .normalization = cifar10_normalization()});
    Rng data_rng(seed);
    train_loader.start_epoch(data_rng);
    for (int64_t k = 0; k < train_loader.batches_per_epoch(); ++k) {
        Batch batch = train_loader.batch(k, data_rng);   // images (B, 3, 32, 32), labels (B)
        const int64_t B = batch.labels.numel();
        CHECK(batch.images.shape() == Shape{B, 3, 32, 32});
        sizes.push_back(B);
        seen.insert(batch.indices.begin(), batch.indices.end());
    }
    CHECK(sizes == std::vector<int64_t>{128, 128, 44});  // the last, smaller batch is kept
    CHECK(seen.size() == 300);                            // every example once per epoch
    CHECK(test_loader.batches_per_epoch() == 1);
}
