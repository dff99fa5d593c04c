// Standard tools see the code: Universal Ctags (what many editors index with) finds every definition,
// including those inside the float32/float64 inline namespace (core/scalar.h), and `make
// compile_commands.json` describes how each file compiles, for clangd. The tests run from the repository
// root; ctags is a tool of the test suite (`make test` installs Debian's universal-ctags when it can).
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

namespace {

// What `command` prints on stdout, and whether it exited with 0.
bool run(const std::string& command, std::string* output) {
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return false;
    std::array<char, 4096> buffer;
    size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output->append(buffer.data(), n);
    return pclose(pipe) == 0;
}

const char* kTags = "ctags -R -x --languages=C++ core nn optim datasets examples 2>/dev/null";

}  // namespace

TEST_CASE("tooling: ctags lists the definitions a reader jumps to, inside the flavour's inline namespace") {
    std::string tags;
    REQUIRE_MESSAGE(run(kTags, &tags), "ctags failed or is missing: apt-get install universal-ctags");
    // `ctags -x` prints: name kind line file pattern
    for (const char* wanted : {"softmax          function", "layer_norm       function", "gemm             function",
                               "multi_head_attention function", "learning_step    function"})
        CHECK_MESSAGE(tags.find(std::string("\n") + wanted) != std::string::npos, "ctags does not list: ", wanted);
    CHECK_MESSAGE(tags.find("Tensor SwinBlock::forward(") != std::string::npos, "ctags does not list SwinBlock::forward");
}

TEST_CASE("tooling: every source file of the library and the command line has its definitions indexed") {
    std::string tags;
    REQUIRE(run(kTags, &tags));
    std::set<std::string> indexed;  // the files ctags found a function, class or struct in
    size_t start = 0;
    while (start < tags.size()) {
        const size_t end = tags.find('\n', start);
        const std::string line = tags.substr(start, end - start);
        start = end == std::string::npos ? tags.size() : end + 1;
        char name[512], kind[64], file[512];
        int line_number;
        if (std::sscanf(line.c_str(), "%511s %63s %d %511s", name, kind, &line_number, file) != 4) continue;
        const std::string k = kind;
        if (k == "function" || k == "class" || k == "struct") indexed.insert(file);
    }
    for (const char* folder : {"core", "core/ops", "core/io", "nn", "optim", "datasets", "examples/cli",
                               "examples/gradcheck"})
        for (const auto& entry : std::filesystem::directory_iterator(folder)) {
            if (entry.path().extension() != ".cpp") continue;
            CHECK_MESSAGE(indexed.count(entry.path().string()), entry.path().string(), " has no definition ctags sees");
        }
}

TEST_CASE("tooling: make compile_commands.json writes the compile database clangd reads") {
    const std::string path = "build/tooling/compile_commands.json";
    std::string output;
    std::filesystem::create_directories("build/tooling");
    REQUIRE(run("make -s compile_commands.json COMPILE_COMMANDS=" + path + " > /dev/null 2>&1", &output));
    std::string json;
    REQUIRE(run("cat " + path, &json));
    CHECK(json.front() == '[');
    CHECK(json.find("\"file\": \"core/ops/softmax.cpp\"") != std::string::npos);
    CHECK(json.find("-DPATCHGRAD_FLOAT64 -c tests/test_tooling.cpp") != std::string::npos);  // the float64 tests
    CHECK(json.find("-c examples/cli/train.cpp") != std::string::npos);
}
