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
    std::string prose;
    bool fenced = false, inline_code = false;
    for (size_t i = 0; i < markdown.size(); ++i) {
        if (markdown.compare(i, 3, "```") == 0) {
            fenced = !fenced;
            i += 2;
        } else if (!fenced && markdown[i] == '`') {
            inline_code = !inline_code;
        } else if (!fenced && !inline_code) {
            prose += markdown[i];
        }
        if (markdown[i] == '\n') inline_code = false;  // inline code never spans lines
    }
    return prose;
}

// Every "docs/..." path in `text`: the longest run of path characters, trailing punctuation dropped.
std::vector<std::string> docs_paths(const std::string& text) {
    std::vector<std::string> paths;
    for (size_t at = text.find("docs/"); at != std::string::npos; at = text.find("docs/", at + 1)) {
        if (at > 0 && (std::isalnum(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '_')) continue;
        size_t end = at;
        while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                                     std::string("_./-").find(text[end]) != std::string::npos))
            ++end;
        std::string path = text.substr(at, end - at);
        while (!path.empty() && std::string("./-").find(path.back()) != std::string::npos) path.pop_back();
        if (path.size() > 5) paths.push_back(path);
    }
    return paths;
}

// A pattern, not a path: its last part is capitals and an extension (docs/img/NAME.svg), README.md aside.
bool is_placeholder(const std::string& path) {
    const std::string name = path.substr(path.rfind('/') + 1);
    const size_t dot = name.find('.');
    if (name == "README.md" || dot == std::string::npos || dot == 0) return false;
    for (size_t i = 0; i < dot; ++i)
        if (!std::isupper(static_cast<unsigned char>(name[i]))) return false;
    return true;
}

}  // namespace

TEST_CASE("doc paths: every docs/... path named in a source, build file or doc exists") {
    int checked = 0;
    for (const fs::path& file : readable_files())
        for (const std::string& path : docs_paths(text_of(file))) {
            if (is_placeholder(path)) continue;
            ++checked;
            CHECK_MESSAGE(fs::exists(path), file.string(), " names ", path, ", which does not exist");
        }
    CHECK(checked > 100);  // the scan found the references (there are hundreds)
}

TEST_CASE("doc paths: every relative link of a chapter leads to a file") {
    int checked = 0;
    for (const fs::path& file : readable_files()) {
        if (file.extension() != ".md") continue;
        const std::string prose = prose_of(text_of(file));
        for (size_t at = prose.find("]("); at != std::string::npos; at = prose.find("](", at + 2)) {
            const size_t end = prose.find(')', at);
            if (end == std::string::npos) break;
            std::string target = prose.substr(at + 2, end - at - 2);
            target = target.substr(0, target.find('#'));  // the section anchor, if any
            if (target.empty() || target.find(':') != std::string::npos) continue;  // same page, or a URL
            ++checked;
            CHECK_MESSAGE(fs::exists(file.parent_path() / target), file.string(), " links to ", target,
                          ", which does not exist");
        }
    }
    CHECK(checked > 50);
}

TEST_CASE("doc paths: the scanners find what they should") {
    CHECK(docs_paths("see docs/models.md, and docs/img/NAME.svg.") ==
          std::vector<std::string>{"docs/models.md", "docs/img/NAME.svg"});
    CHECK(is_placeholder("docs/img/NAME.svg"));
    CHECK_FALSE(is_placeholder("docs/README.md"));
    CHECK(prose_of("a `[](x)` b\n```\n[](y)\n```\nc") == "a  b\n\nc");
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
