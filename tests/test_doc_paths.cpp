// Every docs/... path named in the code and the docs, and every relative link between the docs, leads to a
// file that exists: a comment that points a reader at a chapter must not point at nothing. A section
// cited by number or by title is a heading of that chapter.
#include <doctest/doctest.h>

#include <cctype>
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

namespace {

// The headings of docs/NAME.md, without their leading #s and blanks.
std::vector<std::string> headings_of(const fs::path& chapter) {
    std::vector<std::string> headings;
    std::ifstream in(chapter);
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] == '#') headings.push_back(line.substr(line.find_first_not_of("# ")));
    return headings;
}

std::string lowercase(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

}  // namespace

TEST_CASE("doc paths: every section a source or doc cites exists in that chapter") {
    // "attention.md, section 6" or "[attention.md](attention.md), section 6": a heading "## 6. ..." there;
    // "training.md, \"Exact resume\"": a heading that contains those words.
    const std::regex by_number(R"(([a-z_]+\.md)\)?,?\s+section\s+([0-9]+))");
    const std::regex by_title(R"re(([a-z_]+\.md)\)?,?\s+"([^"\n]+)")re");
    int checked = 0;
    for (const fs::path& file : readable_files()) {
        const std::string text = text_of(file);
        for (const std::regex* pattern : {&by_number, &by_title})
            for (auto it = std::sregex_iterator(text.begin(), text.end(), *pattern); it != std::sregex_iterator(); ++it) {
                const fs::path chapter = fs::path("docs") / (*it)[1].str();
                if (!fs::exists(chapter)) continue;  // a file elsewhere (README.md): the path test covers it
                const std::string wanted = (*it)[2].str();
                bool found = false;
                for (const std::string& heading : headings_of(chapter))
                    found = found || (pattern == &by_number ? heading.rfind(wanted + ". ", 0) == 0
                                                            : lowercase(heading).find(lowercase(wanted)) != std::string::npos);
                ++checked;
                CHECK_MESSAGE(found, file.string(), " cites ", chapter.string(), ", \"", wanted,
                              "\", which is no section of it");
            }
    }
    CHECK(checked > 50);  // the scan found the citations (there are about seventy)
}
