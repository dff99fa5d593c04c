// The gradient-check catalogue (examples/gradcheck/gradcheck_suite.cpp) as test cases: every entry must pass in float64,
// one CHECK per entry naming it. The same list is what `patchgrad gradcheck` prints, so the command line
// and the test suite can never disagree about which checks exist. Also: the table, the float32 flavour
// reached through examples/gradcheck/gradcheck_suite_flavours.h, the command line's exit codes, and that the example in
// docs/gradcheck.md is the code that is compiled and run.
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "examples/cli/args.h"
#include "examples/gradcheck/gradcheck_suite.h"
#include "examples/gradcheck/gradcheck_suite_flavours.h"
#include "tests/helpers.h"

using namespace patchgrad;

// examples/cli/gradcheck.cpp (compiled as float32 and linked into the tests). Declared here rather than
// through examples/cli/commands.h, whose training declarations belong to the float32 flavour.
namespace patchgrad::cli {
int run_gradcheck(int argc, char** argv);
}

namespace {

std::string read_file(const std::string& path) {
    std::ifstream file(path);
    REQUIRE_MESSAGE(file.good(), "cannot open ", path, " (run the tests from the repository root, as make does)");
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// Runs `patchgrad gradcheck ARGS...` in-process, capturing what it prints; returns the exit code.
int run_command(std::vector<std::string> words, std::string& printed) {
    words.insert(words.begin(), {"patchgrad", "gradcheck"});
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    std::ostringstream captured;
    std::streambuf* previous = std::cout.rdbuf(captured.rdbuf());
    int code = -1;
    try {
        code = cli::run_gradcheck(static_cast<int>(argv.size()), argv.data());
    } catch (...) {
        std::cout.rdbuf(previous);
        throw;
    }
    std::cout.rdbuf(previous);
    printed = captured.str();
    return code;
}

// x^2 with a backward that forgets the factor 2: a check that must fail.
Tensor wrong_square(const Tensor& x) {
    Tensor out = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) out.data()[i] = x.data()[i] * x.data()[i];
    out.set_backward("wrong_square", {x}, [x](const Tensor& dout) {
        Scalar* dx = x.grad_data();
        for (int64_t i = 0; i < x.numel(); ++i) dx[i] += dout.data()[i] * x.data()[i];  // should be 2 x
    });
    return out;
}

}  // namespace

TEST_CASE("gradcheck suite: every entry of the catalogue passes in float64") {
    const std::vector<GradcheckSuiteEntry> entries = gradcheck_suite_entries();
    const std::vector<GradcheckSuiteRow> rows = run_gradcheck_suite({}, /*seed=*/0);
    REQUIRE(rows.size() == entries.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        const GradcheckSuiteRow& row = rows[i];
        CHECK(row.name == entries[i].name);
        CHECK_MESSAGE(row.passed, row.name, " (", row.inputs, "): ", row.failure);
        CHECK_MESSAGE(row.checked > 0, row.name, ": no element was checked");
        // float64 central differences agree to ~1e-9; 1e-6 would already mean something is off
        CHECK_MESSAGE(row.max_abs_error < 1e-6, row.name, ": max abs error ", row.max_abs_error);
    }
}

TEST_CASE("gradcheck suite: other seeds pass too (new inputs, parameters and probe)") {
    for (uint64_t seed : {1, 2}) {
        CAPTURE(seed);
        for (const GradcheckSuiteRow& row :
             run_gradcheck_suite({"relu", "max", "div", "layer_norm", "attention", "window_attention", "gather"}, seed))
            CHECK_MESSAGE(row.passed, row.name, ": ", row.failure);
    }
}

TEST_CASE("gradcheck suite: the catalogue holds the ops, layers and models, each named once and described") {
    std::set<std::string> names;
    for (const GradcheckSuiteEntry& entry : gradcheck_suite_entries()) {
        CHECK_MESSAGE(names.insert(entry.name).second, entry.name, " is listed twice");
        CHECK_MESSAGE(!entry.description.empty(), entry.name, " has no description");
    }
    for (const char* required :
         {"linear", "layer_norm", "softmax", "log_softmax", "cross_entropy", "gelu", "matmul", "attention",
          "multi_head_attention", "patch_embed", "position_embedding", "window_attention", "patch_merging",
          "swin_block", "vit", "swin", "add_broadcast", "mul", "div", "exp", "log", "sqrt", "tanh", "sigmoid", "relu",
          "drop_path", "sum", "mean", "max", "permute", "slice", "concat", "roll", "shifted_copies", "gather",
          "index_select", "unfold", "unfold_channels_last", "conv_stem"})
        CHECK_MESSAGE(names.count(required) == 1, required, " is missing from the catalogue");
}

TEST_CASE("gradcheck suite: named checks run in the order given; an unknown name lists the known ones") {
    const std::vector<GradcheckSuiteRow> rows = run_gradcheck_suite({"patch_embed", "linear"}, 0);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].name == "patch_embed");
    CHECK(rows[1].name == "linear");
    CHECK(rows[1].inputs == "x (2, 3, 4), weight (5, 4), bias (5,)");
    CHECK(rows[1].checked == 24 + 20 + 5);
    CHECK(rows[0].inputs == "images (2, 2, 4, 4) + 2 parameters");  // a layer counts its parameters
    CHECK(rows[0].inputs_detail.size() == 3);
    const std::string msg = thrown_message([] { run_gradcheck_suite({"linear", "lienar"}, 0); });
    CHECK(contains(msg, "unknown check 'lienar'"));
    CHECK(contains(msg, "linear, "));
    CHECK(contains(msg, "swin"));
}

TEST_CASE("gradcheck suite: a wrong backward gives a FAIL row, and --verbose shows where") {
    Tensor x = random_tensor({2, 3}, 5, true, 0.5, 1.5);
    const GradcheckReport report = gradcheck([](const std::vector<Tensor>& in) { return wrong_square(in[0]); }, {x});
    const GradcheckSuiteRow row = gradcheck_row("wrong_square", report, {"x"});
    CHECK_FALSE(row.passed);
    CHECK(row.inputs == "x (2, 3)");
    CHECK(row.checked == 6);
    CHECK(row.max_abs_error > 0.1);  // analytic is half the numeric gradient, |numeric| >= 2 * 0.5 * |probe|
    CHECK(contains(row.failure, "element"));
    const std::string table = format_gradcheck_table({row}, gradcheck_suite_settings());
    CHECK(contains(table, "wrong_square"));
    CHECK(contains(table, "FAIL"));
    CHECK(contains(table, "1 check: 0 passed, 1 failed (float64)"));
    const std::string details = format_gradcheck_details(row, 4);
    CHECK(contains(details, "first 4 of 6 elements (this input FAILED)"));
    // analytic = x * probe, numeric = 2 x * probe: element 0's two columns differ by a factor of 2
    REQUIRE(row.inputs_detail.size() == 1);
    const GradcheckSuiteInput& input = row.inputs_detail[0];
    CHECK(input.numeric[0] == doctest::Approx(2 * input.analytic[0]).epsilon(1e-6));
}

TEST_CASE("gradcheck suite: neighbouring inputs of one shape share it in the inputs column") {
    const std::vector<GradcheckSuiteRow> rows = run_gradcheck_suite({"attention", "stack"}, 0);
    CHECK(rows[0].inputs == "q, k, v (2, 2, 3, 4), bias (2, 3, 3)");
    CHECK(rows[1].inputs == "a, b (2, 3)");
}

TEST_CASE("gradcheck suite: float32 runs the same checks with errors ~1e-4, far above float64's ~1e-9") {
    // The float32 library is linked into the tests too; examples/gradcheck/gradcheck_suite_flavours.h names it.
    const GradcheckSuiteSettings settings32 = f32::gradcheck_suite_settings();
    CHECK(settings32.flavour == "float32");
    CHECK(settings32.eps == 1e-3);
    CHECK(f64::gradcheck_suite_settings().flavour == "float64");
    CHECK(f64::gradcheck_suite_settings().eps == 1e-6);
    const std::vector<GradcheckSuiteRow> rows32 = f32::run_gradcheck_suite({"linear", "softmax"}, 0, Kernels::fast);
    const std::vector<GradcheckSuiteRow> rows64 = f64::run_gradcheck_suite({"linear", "softmax"}, 0, Kernels::fast);
    REQUIRE(rows32.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
        CAPTURE(rows32[i].name);
        CHECK(rows32[i].checked == rows64[i].checked);
        CHECK(rows32[i].max_abs_error > 1e-6);
        CHECK(rows64[i].max_abs_error < 1e-8);
        CHECK(rows32[i].max_abs_error > 1000 * rows64[i].max_abs_error);
    }
    CHECK(contains(format_gradcheck_table(rows32, settings32), "NOT TRUSTWORTHY"));
}

TEST_CASE("patchgrad gradcheck: exit 0 when the named checks pass, 2 for an unknown name; --list lists all") {
    std::string printed;
    CHECK(run_command({"linear", "softmax", "--seed", "3"}, printed) == 0);
    CHECK(contains(printed, "linear "));
    CHECK(contains(printed, "2 checks: 2 passed, 0 failed (float64)"));

    CHECK(run_command({"softmax", "--verbose"}, printed) == 0);
    CHECK(contains(printed, "softmax: input x (2, 3, 4), first 6 of 24 elements"));

    CHECK(run_command({"--list"}, printed) == 0);
    for (const GradcheckSuiteEntry& entry : gradcheck_suite_entries()) CHECK(contains(printed, entry.name + " "));

    // float32 misses float64's tolerance: the honest verdict is FAIL, and the exit code says so
    CHECK(run_command({"linear", "--float32"}, printed) == 1);
    CHECK(contains(printed, "FAIL"));

    const std::string msg = thrown_message([&] { run_command({"nope"}, printed); });
    CHECK(contains(msg, "unknown check 'nope'"));
    CHECK(contains(msg, "window_attention"));
    CHECK_THROWS_AS(run_command({"nope"}, printed), cli::UsageError);
}

TEST_CASE("docs/gradcheck.md quotes examples/custom_op_f64.cpp verbatim") {
    const std::string source = read_file("examples/custom_op_f64.cpp");
    const std::string begin = "// [custom-op]\n", end = "// [/custom-op]\n";
    const size_t from = source.find(begin), to = source.find(end);
    REQUIRE_MESSAGE(from != std::string::npos, "examples/custom_op_f64.cpp has no ", begin);
    REQUIRE_MESSAGE(to != std::string::npos, "examples/custom_op_f64.cpp has no ", end);
    REQUIRE(from < to);
    const std::string snippet = source.substr(from + begin.size(), to - from - begin.size());
    CHECK(snippet.size() > 500);
    const std::string docs = read_file("docs/gradcheck.md");
    CHECK_MESSAGE(contains(docs, "```cpp\n" + snippet + "```\n"),
                  "docs/gradcheck.md must quote the code between the [custom-op] markers of "
                  "examples/custom_op_f64.cpp verbatim, in a ```cpp block; copy it again");
}
