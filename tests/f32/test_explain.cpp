// `patchgrad explain` and the pictures in docs/img/ (examples/cli/explain.cpp, examples/cli/svg.cpp):
// every picture in the docs is exactly what the command draws today (else: run make figures), is
// well-formed XML, and shows what the library computed (64 patches, 256/128/128/64 attending pairs, 49
// bias rows, 4C -> 2C, Swin-T's 64/16/4/1 windows...). Also the SVG builder's number format and escaping,
// and the XML checker of tests/xml_check.h, which must reject broken documents for the other checks to
// mean anything.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/svg.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"
#include "tests/xml_check.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::TempDir, testing::xml_error, testing::count_tags, testing::count_class;

namespace {

const std::vector<std::string> kTopics = {"patches", "windows", "shift-mask", "relative-index", "merge", "hierarchy"};

std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// Runs `patchgrad explain WORDS...` in-process; returns what it printed on stdout.
std::string explain(std::vector<std::string> words) {
    words.insert(words.begin(), {"patchgrad", "explain"});
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    std::ostringstream captured;
    std::streambuf* previous = std::cout.rdbuf(captured.rdbuf());
    try {
        run_explain(static_cast<int>(argv.size()), argv.data());
    } catch (...) {
        std::cout.rdbuf(previous);
        throw;
    }
    std::cout.rdbuf(previous);
    return captured.str();
}

// The picture of `topic`, drawn now.
std::string draw(const std::string& topic) { return explain({topic}); }

}  // namespace

TEST_CASE("explain: every picture in docs/img is what `patchgrad explain` draws now") {
    for (const std::string& topic : kTopics) {
        const std::string path = "docs/img/" + topic + ".svg";  // tests run from the repository root (make test)
        REQUIRE_MESSAGE(std::filesystem::exists(path), path, " is missing (tests run from the repository root): "
                                                       "run make figures");
        CHECK_MESSAGE(read_text(path) == draw(topic), path, " differs from `patchgrad explain ", topic,
                      "`: run make figures");
    }
}

TEST_CASE("explain: the same topic gives the same bytes, on stdout and with --out") {
    TempDir dir;
    for (const std::string& topic : kTopics) {
        const std::string first = draw(topic);
        CHECK(draw(topic) == first);
        CHECK(explain({topic, "--out", dir.file(topic + ".svg")}).empty());
        CHECK(read_text(dir.file(topic + ".svg")) == first);
    }
}

TEST_CASE("explain: each picture is well-formed XML, titled, and shows what the library computed") {
    for (const std::string& topic : kTopics) {
        const std::string svg = draw(topic);
        CAPTURE(topic);
        CHECK(xml_error(svg) == "");
        const std::string prologue =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"";
        CHECK(svg.rfind(prologue, 0) == 0);
        CHECK(contains(svg, "font-weight=\"bold\""));                      // the title
        CHECK(contains(svg, "(patchgrad explain " + topic + ").</text>"));  // the caption names the command
        CHECK(count_tags(svg, "rect") > 100);                              // not blank
    }
    const std::string patches = draw("patches");
    CHECK(count_class(patches, "patch") == 64);           // 8 x 8 patches in the sequence strip
    CHECK(count_tags(patches, "rect") >= 2 * 32 * 32);    // the image's pixels and the tiles' pixels
    CHECK(contains(patches, ">63</text>"));
    const std::string windows = draw("windows");
    CHECK(count_class(windows, "token") == 64);           // the 8 x 8 map
    CHECK(count_class(windows, "window-token") == 64);    // (4, 16): four windows of 16 tokens
    const std::string shift = draw("shift-mask");
    CHECK(count_class(shift, "token") == 2 * 64);         // before and after the shift
    CHECK(count_class(shift, "mask") == 4);               // one 16 x 16 mask per window
    CHECK(count_class(shift, "attends") == 256 + 128 + 128 + 64);  // docs/swin_windows.md, section 4
    CHECK(count_class(shift, "blocked") == 4 * 256 - 576);
    CHECK(contains(shift, "window 3: 64 pairs attend"));
    const std::string relative = draw("relative-index");
    CHECK(count_class(relative, "entry") == 16 * 16);     // index[i][j]
    CHECK(count_class(relative, "offset") == 7 * 7);      // (2M - 1)^2 table rows
    CHECK(contains(relative, ">48</text>"));               // the largest index, (2M - 1)^2 - 1
    const std::string merge = draw("merge");
    CHECK(count_class(merge, "token") == 64);
    CHECK(count_class(merge, "merged") == 16);            // 8 x 8 -> 4 x 4
    CHECK(contains(merge, ">x1: 1,0</text>"));             // merged token 0: x1 is the token below (1, 0)
    CHECK(contains(merge, ">x2: 0,1</text>"));             // and x2 the one to the right (0, 1)
    CHECK(count_class(merge, "channels-4c") == 4);        // x0 | x1 | x2 | x3: 4C
    CHECK(count_class(merge, "channels-2c") == 1);        // after the Linear: 2C
    CHECK(contains(merge, ">4C = 384: (1, 784, 384)</text>"));  // Swin-T's first merge, C = 96
    CHECK(contains(merge, "reduction.weight (192, 384)</text>"));
    CHECK(contains(merge, ">2C = 192: (1, 784, 192)</text>"));
    const std::string hierarchy = draw("hierarchy");
    CHECK(count_class(hierarchy, "stage") == 4);
    CHECK(count_class(hierarchy, "window") == 64 + 16 + 4 + 1);          // 56, 28, 14, 7 tokens a side, M = 7
    CHECK(count_class(hierarchy, "channels") == 1 + 2 + 4 + 8);          // blocks of 96 channels: 96 ... 768
    CHECK(contains(hierarchy, ">stage 1: 56x56 = 3136 tokens</text>"));
    CHECK(contains(hierarchy, ">stage 4: 7x7 = 49 tokens</text>"));
    CHECK(contains(hierarchy, ">1 window of 7x7 = 49 tokens</text>"));
    CHECK(contains(hierarchy, ">shift 0: one window covers the grid</text>"));
    CHECK(contains(hierarchy, ">6 blocks: 3 W-MSA, 3 SW-MSA</text>"));
    CHECK(contains(hierarchy, ">merge: 4C = 1536 -&gt; 2C = 768</text>"));
    CHECK(contains(hierarchy, "28,288,354 parameters"));
}

TEST_CASE("explain: an unknown or missing topic is a usage error listing the topics; --help lists them") {
    const std::string message = thrown_message([] { draw("pachtes"); });
    CHECK(contains(message, "unknown topic 'pachtes'"));
    CHECK(contains(message, "patches, windows, shift-mask, relative-index, merge, hierarchy"));
    CHECK_THROWS_AS(draw("pachtes"), UsageError);
    CHECK_THROWS_AS(explain({}), UsageError);
    CHECK(contains(thrown_message([] { explain({}); }), "which TOPIC"));
    CHECK_THROWS_AS(explain({"patches", "windows"}), UsageError);
    const std::string help = explain({"--help"});
    for (const std::string& topic : kTopics) CHECK(contains(help, "  " + topic + " "));
    CHECK(contains(help, "--out"));
}

TEST_CASE("svg: numbers in a fixed format, text escaped, groups balanced") {
    CHECK(format_number(12) == "12");
    CHECK(format_number(0.5) == "0.5");
    CHECK(format_number(-3.25) == "-3.25");
    CHECK(format_number(2.0 / 3) == "0.67");
    CHECK(format_number(-0.001) == "0");   // never "-0"
    CHECK(format_number(1e6) == "1000000");
    CHECK(xml_escape("a < b & \"c\" > 'd'") == "a &lt; b &amp; &quot;c&quot; &gt; &apos;d&apos;");

    Svg svg(100, 50.5);
    svg.begin_group("translate(1, 2)", "legend");
    svg.rect(1, 2, 3, 4, {.fill = "#ff0000", .stroke = "#000000", .stroke_width = 0.25, .css_class = "box"});
    svg.text(5, 6, "x < y & z", {.size = 10, .anchor = "middle", .rotate = -90});
    svg.end_group();
    svg.polyline({{0, 0}, {1.5, 2}}, {.fill = "none", .stroke = "#00ff00", .dash = "4 2"});
    svg.circle(1, 2, 3, {.fill = "#0000ff"});
    svg.line(0, 1, 2, 3, {.stroke = "#000000"});
    const std::string text = svg.str();
    CHECK(xml_error(text) == "");
    CHECK(contains(text, "width=\"100\" height=\"50.5\" viewBox=\"0 0 100 50.5\""));
    CHECK(contains(text, "  <g class=\"legend\" transform=\"translate(1, 2)\">\n"));
    CHECK(contains(text, "<rect x=\"1\" y=\"2\" width=\"3\" height=\"4\" class=\"box\" fill=\"#ff0000\" "
                         "stroke=\"#000000\" stroke-width=\"0.25\"/>"));
    CHECK(contains(text, "text-anchor=\"middle\" transform=\"rotate(-90 5 6)\">x &lt; y &amp; z</text>"));
    CHECK(contains(text, "points=\"0,0 1.5,2\"/>"));
    CHECK(contains(text, "stroke-dasharray=\"4 2\""));
    CHECK(count_tags(text, "rect") == 2);  // the white background and the box

    Svg open(10, 10);
    open.begin_group("");
    CHECK(contains(thrown_message([&] { (void)open.str(); }), "still open"));
    Svg closed(10, 10);
    CHECK(contains(thrown_message([&] { closed.end_group(); }), "no group is open"));
}

TEST_CASE("xml_check: accepts well-formed XML and rejects broken XML, saying what and where") {
    CHECK(xml_error("<?xml version=\"1.0\"?>\n<!-- a comment -->\n<a x=\"1\" y='2'><b/>text &amp; &#65; &#x42;"
                    "<![CDATA[ <not a tag> ]]><c>more</c></a>\n") == "");
    CHECK(xml_error("<svg><g><rect/></g></svg>") == "");
    CHECK(contains(xml_error("<a><b></a></b>"), "</a> closes <b>: expected </b>"));
    CHECK(contains(xml_error("<a><b/>"), "<a> is never closed"));
    CHECK(contains(xml_error("<a x=1/>"), "attribute x is not quoted"));
    CHECK(contains(xml_error("<a x=\"1/>"), "never closed"));
    CHECK(contains(xml_error("<a x=\"1\" x=\"2\"/>"), "attribute x given twice"));
    CHECK(contains(xml_error("<a x=\"1\"y=\"2\"/>"), "expected a space"));
    CHECK(contains(xml_error("<a x/>"), "attribute x has no '='"));
    CHECK(contains(xml_error("<a x=\"<\"/>"), "'<' in the value of attribute x"));
    CHECK(contains(xml_error("<a>fish & chips</a>"), "bare '&'"));
    CHECK(contains(xml_error("<a>&nbsp;</a>"), "unknown entity &nbsp;"));
    CHECK(contains(xml_error("<a>&#xZZ;</a>"), "unknown entity &#xZZ;"));
    CHECK(contains(xml_error("<a/><b/>"), "a second root element"));
    CHECK(contains(xml_error("<a/>tail"), "text after the root element"));
    CHECK(contains(xml_error(""), "expected the root element"));
    CHECK(contains(xml_error("<a><!-- x -- y --></a>"), "\"--\" inside a comment"));
    CHECK(contains(xml_error("<1a/>"), "expected a name"));
    CHECK(contains(xml_error("<a>\n\n<b></c></a>"), "line 3: </c> closes <b>"));
    CHECK(count_tags("<rect/><rectangle/><rect x=\"1\"/>", "rect") == 2);
}
