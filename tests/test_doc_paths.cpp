// Every docs/... path named in the code and the docs, and every relative link between the docs, leads to a
// file that exists: a comment that points a reader at a chapter must not point at nothing.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// The files a reader reads: sources, build files and docs (the tests run from the repository root).
std::vector<fs::path> readable_files() {
    std::vector<fs::path> files = {"README.md", "Makefile"};
    const std::set<std::string> kept = {".cpp", ".h", ".md", ".sh", ".py"};
    for (const char* folder : {"core", "nn", "optim", "datasets", "examples", "tests", "docs"})
        for (const auto& entry : fs::recursive_directory_iterator(folder))
            if (entry.is_regular_file() && kept.count(entry.path().extension().string())) files.push_back(entry.path());
    return files;
}

std::string text_of(const fs::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Markdown prose without its code: fenced blocks and `inline code` hold lambdas like [](const Tensor& x),
// which are not links.
std::string prose_of(const std::string& markdown) {
    std::string without_fences = std::regex_replace(markdown, std::regex("```[^`]*```"), "");
    return std::regex_replace(without_fences, std::regex("`[^`\n]*`"), "");
}

}  // namespace

TEST_CASE("doc paths: every docs/... path named in a source, build file or doc exists") {
    // "docs/" then a path; a placeholder in capitals (docs/img/NAME.svg) is a pattern, not a path.
    const std::regex docs_path(R"(docs/[A-Za-z0-9_./-]*[A-Za-z0-9_])");
    int checked = 0;
    for (const fs::path& file : readable_files()) {
        const std::string text = text_of(file);
        for (auto it = std::sregex_iterator(text.begin(), text.end(), docs_path); it != std::sregex_iterator(); ++it) {
            const std::string path = it->str();
            if (std::regex_search(path, std::regex("/[A-Z]+\\.[a-z]+$")) && path != "docs/README.md") continue;
            ++checked;
            CHECK_MESSAGE(fs::exists(path), file.string(), " names ", path, ", which does not exist");
        }
    }
    CHECK(checked > 100);  // the scan found the references (there are hundreds)
}

TEST_CASE("doc paths: every relative link of a chapter leads to a file") {
    const std::regex link(R"(\]\(([^)#:]+)(#[^)]*)?\))");  // [text](target) without a scheme
    int checked = 0;
    for (const fs::path& file : readable_files()) {
        if (file.extension() != ".md") continue;
        const std::string text = prose_of(text_of(file));
        for (auto it = std::sregex_iterator(text.begin(), text.end(), link); it != std::sregex_iterator(); ++it) {
            ++checked;
            const fs::path target = file.parent_path() / (*it)[1].str();
            CHECK_MESSAGE(fs::exists(target), file.string(), " links to ", (*it)[1].str(), ", which does not exist");
        }
    }
    CHECK(checked > 50);
}
