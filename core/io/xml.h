#pragma once
// The one escape every SVG writer needs (core/graph_svg.cpp, examples/cli/svg.cpp).
#include <string>

namespace patchgrad {

// `text` with & < > " ' replaced by their XML entities, safe inside an element or an attribute.
inline std::string xml_escape(const std::string& text) {
    std::string escaped;
    for (const char c : text) {
        switch (c) {
            case '&': escaped += "&amp;"; break;
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '"': escaped += "&quot;"; break;
            case '\'': escaped += "&apos;"; break;
            default: escaped += c;
        }
    }
    return escaped;
}

}  // namespace patchgrad
