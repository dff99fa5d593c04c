#pragma once
// Svg: a small builder for SVG pictures, written with the standard library alone. `patchgrad explain`
// (explain.cpp) draws the docs' figures with it and `patchgrad plot` (plot.cpp) a run's metrics;
// docs/figures.md shows the results.
//
//     Svg svg(200, 100);                                         // width, height in pixels
//     svg.rect(10, 10, 80, 40, {.fill = "#4c72b0", .stroke = "#000", .stroke_width = 1});
//     svg.text(50, 80, "a < b", {.size = 12, .anchor = "middle"});   // escaped: a &lt; b
//     svg.begin_group("translate(100, 0)", "legend");
//     svg.line(0, 0, 50, 50, {.stroke = "#888"});
//     svg.end_group();
//     std::string document = svg.str();
//
// The output is reproducible byte for byte: numbers are printed by format_number (at most two decimals,
// with a '.' whatever the locale), attributes come in a fixed order, and nothing depends on the time or
// the machine. Coordinates are SVG's: x to the right, y downwards, in pixels from the top-left corner.
#include <string>
#include <utility>
#include <vector>

#include "core/io/xml.h"

namespace patchgrad::cli {

// How a shape is painted. Empty strings and zero widths are left out of the element, so SVG's defaults
// apply (fill black, no stroke).
// (Every field has an initialiser, so `{.fill = "#fff"}` leaves the others at their defaults.)
struct Style {
    std::string fill = "";        // "#4c72b0", "none", ...
    std::string stroke = "";      // the outline's colour
    double stroke_width = 0;      // the outline's width in pixels
    std::string dash = "";        // stroke-dasharray, "4 2": 4 pixels drawn, 2 skipped
    std::string css_class = "";   // class="...": a name tests and style sheets can find the element by
};

// How a text is set.
struct TextStyle {
    double size = 12;                 // font size in pixels
    std::string anchor = "start";     // where (x, y) sits on the baseline: "start", "middle" or "end"
    std::string fill = "";            // the colour; empty: black
    bool bold = false;
    double rotate = 0;                // degrees, clockwise, about (x, y): -90 writes upwards
    std::string halo = "";            // a colour drawn around the letters (readable on any background)
    std::string css_class = "";
};

// "12", "0.5", "-3.25": `value` rounded to two decimals, trailing zeros and a trailing '.' removed, "-0"
// printed as "0". Locale-independent (std::to_chars).
std::string format_number(double value);

// xml_escape (core/io/xml.h): & < > " ' as XML entities.

class Svg {
public:
    // A white picture of `width` x `height` pixels (a white rectangle first, so it reads on dark pages).
    Svg(double width, double height);

    void rect(double x, double y, double width, double height, const Style& style);
    void line(double x1, double y1, double x2, double y2, const Style& style);
    void polyline(const std::vector<std::pair<double, double>>& points, const Style& style);  // (x, y) pairs
    void circle(double cx, double cy, double radius, const Style& style);
    void text(double x, double y, const std::string& text, const TextStyle& style = {});

    // Everything drawn until the matching end_group() is moved by `transform` ("translate(10, 20)",
    // "" for none) and carries `css_class` ("" for none). Groups nest.
    void begin_group(const std::string& transform, const std::string& css_class = "");
    void end_group();

    // The whole document. Throws std::logic_error when a group is still open.
    std::string str() const;

private:
    void open_element(const std::string& name);
    void add_style(const Style& style);

    double width_, height_;
    std::string body_;
    int open_groups_ = 0;
};

}  // namespace patchgrad::cli
