// Every test a chapter cites by name exists: a reader who looks for "pitfall (b): ..." in tests/ must find it.
//
// The docs cite a test by quoting its name, or part of it: in double quotes or backquotes, "..." or "…" standing
// for omitted words, and "a: b / c" for the two tests "a: b" and "a: c". A quotation counts as a citation when
//   - it starts with the prefix of some test name ("SGD: ...", "pitfall (b): ..."), or
//   - it is double-quoted inside parentheses on a line that speaks of tests (`tests/x.cpp` ("its name")), or
//   - it follows the word "test" or "tests" (test `LayerNorm: ... values by hand`).
// The tests run from the repository root (as `make test` runs them), so paths are relative to it.
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

std::string text_of(const fs::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The names of every TEST_CASE in tests/*.cpp and tests/f32/*.cpp, escaped quotes unescaped.
std::vector<std::string> test_names() {
    std::vector<std::string> names;
    const std::regex test_case(R"re(TEST_CASE\("((?:[^"\\]|\\.)*)")re");
    for (const char* folder : {"tests", "tests/f32"})
        for (const auto& entry : fs::directory_iterator(folder)) {
            if (entry.path().extension() != ".cpp") continue;
            const std::string text = text_of(entry.path());
            for (auto it = std::sregex_iterator(text.begin(), text.end(), test_case); it != std::sregex_iterator(); ++it)
                names.push_back(std::regex_replace((*it)[1].str(), std::regex(R"(\\")"), "\""));
        }
    return names;
}

// "a ... b …" -> {"a", "b"}: the pieces a test name must hold, in this order.
std::vector<std::string> pieces_of(const std::string& quotation) {
    std::vector<std::string> pieces;
    const std::string text = std::regex_replace(quotation, std::regex("\\.\\.\\.|…"), "\x01");
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\x01', start);
        if (end == std::string::npos) end = text.size();
        std::string piece = text.substr(start, end - start);
        piece.erase(0, piece.find_first_not_of(' '));
        piece.erase(piece.find_last_not_of(' ') + 1);
        if (!piece.empty()) pieces.push_back(piece);
        start = end + 1;
    }
    return pieces;
}

bool some_test_matches(const std::vector<std::string>& names, const std::string& quotation) {
    const std::vector<std::string> pieces = pieces_of(quotation);
    for (const std::string& name : names) {
        size_t at = 0;
        bool found = true;
        for (const std::string& piece : pieces) {
            at = name.find(piece, at);
            if (at == std::string::npos) { found = false; break; }
            at += piece.size();
        }
        if (found) return true;
    }
    return false;
}

// "a: b / c" -> {"a: b", "a: c"}; anything else -> itself.
std::vector<std::string> alternatives_of(const std::string& quotation) {
    const size_t colon = quotation.find(": ");
    if (colon == std::string::npos || quotation.find(" / ") == std::string::npos) return {quotation};
    const std::string head = quotation.substr(0, colon + 2);
    std::vector<std::string> out;
    std::string tail = quotation.substr(colon + 2);
    for (size_t slash; (slash = tail.find(" / ")) != std::string::npos; tail = tail.substr(slash + 3))
        out.push_back(head + tail.substr(0, slash));
    out.push_back(head + tail);
    return out;
}

struct Citation {
    std::string file;
    int line = 0;
    std::string quotation;
};

// The citations of test names in docs/*.md and README.md (code blocks left out).
std::vector<Citation> citations(const std::vector<std::string>& names) {
    std::set<std::string> prefixes;
    for (const std::string& name : names)
        if (const size_t colon = name.find(": "); colon != std::string::npos) prefixes.insert(name.substr(0, colon));
    std::vector<fs::path> files = {"README.md"};
    for (const auto& entry : fs::directory_iterator("docs"))
        if (entry.path().extension() == ".md") files.push_back(entry.path());
    const std::regex quoted("`([^`\n]+)`|\"([^\"\n]+)\"");
    std::vector<Citation> found;
    for (const fs::path& file : files) {
        std::string text = text_of(file);
        // Blank out fenced blocks, keeping their newlines so line numbers stay right.
        for (size_t open; (open = text.find("```")) != std::string::npos;) {
            const size_t close = text.find("```", open + 3);
            const size_t end = close == std::string::npos ? text.size() : close + 3;
            for (size_t i = open; i < end; ++i)
                if (text[i] != '\n') text[i] = ' ';
        }
        for (auto it = std::sregex_iterator(text.begin(), text.end(), quoted); it != std::sregex_iterator(); ++it) {
            const bool double_quoted = (*it)[2].matched;
            const std::string quotation = double_quoted ? (*it)[2].str() : (*it)[1].str();
            const size_t at = static_cast<size_t>(it->position());
            const size_t line_start = text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
            const std::string before = text.substr(line_start, at - line_start);
            const std::string line_text = text.substr(line_start, text.find('\n', at) - line_start);
            const size_t colon = quotation.find(": ");
            const bool by_prefix = colon != std::string::npos && prefixes.count(quotation.substr(0, colon)) &&
                                   quotation.find('"') == std::string::npos;
            const bool in_parentheses = double_quoted && !before.empty() && before.back() == '(' &&
                                        line_text.find("test") != std::string::npos;
            const bool after_test = std::regex_search(before, std::regex("\\btests? $"));
            if (!by_prefix && !in_parentheses && !after_test) continue;
            const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
            for (const std::string& one : alternatives_of(quotation)) found.push_back({file.string(), line, one});
        }
    }
    return found;
}

}  // namespace

TEST_CASE("doc tests: the matcher reads ellipses, alternatives and order") {
    const std::vector<std::string> names = {"SGD: plain steps by hand", "pow, exp, log, sqrt: values"};
    CHECK(some_test_matches(names, "SGD: plain steps by hand"));
    CHECK(some_test_matches(names, "SGD: ... by hand"));
    CHECK(some_test_matches(names, "SGD: plain …"));
    CHECK_FALSE(some_test_matches(names, "SGD: by hand ... plain"));
    CHECK_FALSE(some_test_matches(names, "SGD: momentum by hand"));
    CHECK(alternatives_of("a: b / c") == std::vector<std::string>{"a: b", "a: c"});
    CHECK(alternatives_of("a / b") == std::vector<std::string>{"a / b"});
}

TEST_CASE("doc tests: every test a chapter cites by name exists in tests/ or tests/f32/") {
    const std::vector<std::string> names = test_names();
    REQUIRE(names.size() > 300);  // the scan found the tests
    const std::vector<Citation> cited = citations(names);
    CHECK(cited.size() > 50);  // and the citations (there are about a hundred)
    for (const Citation& citation : cited)
        CHECK_MESSAGE(some_test_matches(names, citation.quotation), citation.file, ":", citation.line, " cites the test \"",
                      citation.quotation, "\", which no TEST_CASE in tests/ or tests/f32/ is named");
}
