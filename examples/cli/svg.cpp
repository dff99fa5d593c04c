// Svg: the SVG document builder of svg.h. Each drawing call appends one element, one line, to the body;
// str() wraps the body in the <svg> root. docs/figures.md shows what is drawn with it.
#include "examples/cli/svg.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace patchgrad::cli {

std::string format_number(double value) {
    const double rounded = std::round(value * 100) / 100;
    if (rounded == 0 || !std::isfinite(rounded)) return "0";
    char text[64];
    const auto [end, error] = std::to_chars(text, text + sizeof text, rounded, std::chars_format::fixed, 2);
    if (error != std::errc()) return "0";
    std::string number(text, end);
    while (number.back() == '0') number.pop_back();  // "12.50" -> "12.5", "12.00" -> "12."
    if (number.back() == '.') number.pop_back();     // "12." -> "12"
    return number;
}

namespace {

// ` name="value"`, the value escaped.
std::string attribute(const std::string& name, const std::string& value) {
    std::string text = " ";
    text += name;
    text += "=\"";
    text += xml_escape(value);
    text += '"';
    return text;
}

std::string attribute(const std::string& name, double value) { return attribute(name, format_number(value)); }

}  // namespace

Svg::Svg(double width, double height) : width_(width), height_(height) {
    rect(0, 0, width, height, {.fill = "#ffffff"});
}

void Svg::open_element(const std::string& name) {
    body_ += std::string(2 * (open_groups_ + 1), ' ') + "<" + name;
}

void Svg::add_style(const Style& style) {
    if (!style.css_class.empty()) body_ += attribute("class", style.css_class);
    if (!style.fill.empty()) body_ += attribute("fill", style.fill);
    if (!style.stroke.empty()) body_ += attribute("stroke", style.stroke);
    if (style.stroke_width != 0) body_ += attribute("stroke-width", style.stroke_width);
    if (!style.dash.empty()) body_ += attribute("stroke-dasharray", style.dash);
}

void Svg::rect(double x, double y, double width, double height, const Style& style) {
    open_element("rect");
    body_ += attribute("x", x) + attribute("y", y) + attribute("width", width) + attribute("height", height);
    add_style(style);
    body_ += "/>\n";
}

void Svg::line(double x1, double y1, double x2, double y2, const Style& style) {
    open_element("line");
    body_ += attribute("x1", x1) + attribute("y1", y1) + attribute("x2", x2) + attribute("y2", y2);
    add_style(style);
    body_ += "/>\n";
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, const Style& style) {
    std::string coordinates;
    for (const auto& [x, y] : points) {
        if (!coordinates.empty()) coordinates += ' ';
        coordinates += format_number(x);
        coordinates += ',';
        coordinates += format_number(y);
    }
    open_element("polyline");
    add_style(style);
    body_ += attribute("points", coordinates) + "/>\n";
}

void Svg::circle(double cx, double cy, double radius, const Style& style) {
    open_element("circle");
    body_ += attribute("cx", cx) + attribute("cy", cy) + attribute("r", radius);
    add_style(style);
    body_ += "/>\n";
}

void Svg::text(double x, double y, const std::string& text, const TextStyle& style) {
    open_element("text");
    if (!style.css_class.empty()) body_ += attribute("class", style.css_class);
    body_ += attribute("x", x) + attribute("y", y) + attribute("font-size", style.size);
    if (style.anchor != "start") body_ += attribute("text-anchor", style.anchor);
    if (!style.fill.empty()) body_ += attribute("fill", style.fill);
    if (style.bold) body_ += attribute("font-weight", "bold");
    if (style.rotate != 0) {
        std::string rotation = "rotate(";  // "rotate(-90 30 200)": the angle, then the centre
        rotation += format_number(style.rotate);
        rotation += ' ';
        rotation += format_number(x);
        rotation += ' ';
        rotation += format_number(y);
        rotation += ')';
        body_ += attribute("transform", rotation);
    }
    if (!style.halo.empty())  // the outline first, the letters over it
        body_ += attribute("stroke", style.halo) + attribute("stroke-width", 3) +
                 attribute("stroke-linejoin", "round") + attribute("paint-order", "stroke");
    body_ += '>';
    body_ += xml_escape(text);
    body_ += "</text>\n";
}

void Svg::begin_group(const std::string& transform, const std::string& css_class) {
    open_element("g");
    if (!css_class.empty()) body_ += attribute("class", css_class);
    if (!transform.empty()) body_ += attribute("transform", transform);
    body_ += ">\n";
    ++open_groups_;
}

void Svg::end_group() {
    if (open_groups_ == 0) throw std::logic_error("Svg::end_group: no group is open");
    --open_groups_;
    body_ += std::string(2 * (open_groups_ + 1), ' ') + "</g>\n";
}

std::string Svg::str() const {
    if (open_groups_ != 0)
        throw std::logic_error("Svg::str: " + std::to_string(open_groups_) + " group(s) still open (end_group)");
    const std::string w = format_number(width_), h = format_number(height_);
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w +
           " " + h + "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n" + body_ + "</svg>\n";
}

}  // namespace patchgrad::cli
