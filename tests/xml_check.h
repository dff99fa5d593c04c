#pragma once
// A small XML well-formedness checker for tests of the SVG pictures (tests/f32/test_explain.cpp,
// tests/f32/test_plot.cpp): not a parser of all of XML, but strict about what our documents use.
//
//   xml_error(text)   "" when `text` is well-formed, else what is wrong and on which line:
//                       * one root element; before it an optional <?xml ...?>, comments and spaces,
//                         after it only comments and spaces;
//                       * every start tag closed by the matching end tag, in order, or self-closing (<a/>);
//                       * names of letters, digits, '_', ':', '.', '-' (not starting with a digit, '.', '-');
//                       * attributes name="value" or name='value', each name once per element, no '<' in
//                         a value;
//                       * '&' only in an entity: &amp; &lt; &gt; &quot; &apos;, &#65; or &#x41;;
//                       * comments <!-- ... --> without "--" inside; <![CDATA[ ... ]]> sections.
//   count_tags(text, "rect")              how many <rect ...> start tags (and <rect/>) the text holds
//   count_class(text, "patch")            how many class="patch" attributes
//   attribute_values(text, "polyline", "points")   the values of one attribute of every such element
#include <cctype>
#include <cstddef>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace patchgrad::testing {

class XmlChecker {
public:
    explicit XmlChecker(const std::string& text) : text_(text) {}

    // Throws std::runtime_error("line N: ...") at the first problem.
    void check_document() {
        skip_misc();
        if (starts_with("<?xml")) skip_past("?>", "the <?xml declaration");
        skip_misc();
        if (pos_ >= text_.size() || text_[pos_] != '<') fail("expected the root element");
        element();
        skip_misc();
        if (pos_ < text_.size()) fail(starts_with("<") ? "a second root element" : "text after the root element");
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        size_t line = 1;
        for (size_t i = 0; i < pos_ && i < text_.size(); ++i) line += text_[i] == '\n';
        throw std::runtime_error("line " + std::to_string(line) + ": " + what);
    }
    bool starts_with(const std::string& s) const { return text_.compare(pos_, s.size(), s) == 0; }
    void skip_space() {
        while (pos_ < text_.size() && std::string(" \n\t\r").find(text_[pos_]) != std::string::npos) ++pos_;
    }
    void skip_past(const std::string& end, const std::string& what) {
        const size_t found = text_.find(end, pos_);
        if (found == std::string::npos) fail(what + " is never closed with " + end);
        pos_ = found + end.size();
    }
    void comment() {
        pos_ += 4;  // "<!--"
        const size_t end = text_.find("--", pos_);
        if (end == std::string::npos) fail("a comment is never closed with -->");
        if (text_.compare(end, 3, "-->") != 0) fail("\"--\" inside a comment");
        pos_ = end + 3;
    }
    // Spaces, comments and processing instructions: what may surround the root element.
    void skip_misc() {
        for (;;) {
            skip_space();
            if (starts_with("<!--")) comment();
            else if (starts_with("<?") && !starts_with("<?xml")) skip_past("?>", "a processing instruction");
            else return;
        }
    }
    static bool name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
    static bool name_char(char c) {
        return name_start(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-';
    }
    std::string name() {
        if (pos_ >= text_.size() || !name_start(text_[pos_])) fail("expected a name");
        const size_t start = pos_;
        while (pos_ < text_.size() && name_char(text_[pos_])) ++pos_;
        return text_.substr(start, pos_ - start);
    }
    // At '&': one entity reference.
    void entity() {
        const size_t end = text_.find(';', pos_);
        if (end == std::string::npos || end - pos_ > 12) fail("a bare '&' (write &amp;)");
        const std::string body = text_.substr(pos_ + 1, end - pos_ - 1);
        static const std::set<std::string> named = {"amp", "lt", "gt", "quot", "apos"};
        bool ok = named.count(body) > 0;
        if (!ok && body.size() > 1 && body[0] == '#') {
            const bool hex = body[1] == 'x';
            const std::string digits = body.substr(hex ? 2 : 1);
            ok = !digits.empty() && digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") ==
                                        std::string::npos;
            if (ok) {
                const unsigned long code = std::stoul(digits.substr(0, 8), nullptr, hex ? 16 : 10);
                ok = code == 0x9 || code == 0xA || code == 0xD || (code >= 0x20 && code <= 0x10FFFF);
            }
        }
        if (!ok) fail("unknown entity &" + body + ";");
        pos_ = end + 1;
    }
    void attributes(std::set<std::string>& seen) {
        for (;;) {
            const size_t before = pos_;
            skip_space();
            if (pos_ >= text_.size()) fail("a tag is never closed");
            if (text_[pos_] == '>' || text_[pos_] == '/') return;
            if (pos_ == before) fail("expected a space before an attribute");
            const std::string attribute = name();
            if (!seen.insert(attribute).second) fail("attribute " + attribute + " given twice");
            skip_space();
            if (pos_ >= text_.size() || text_[pos_] != '=') fail("attribute " + attribute + " has no '='");
            ++pos_;
            skip_space();
            if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '\''))
                fail("the value of attribute " + attribute + " is not quoted");
            const char quote = text_[pos_++];
            while (pos_ < text_.size() && text_[pos_] != quote) {
                if (text_[pos_] == '<') fail("'<' in the value of attribute " + attribute);
                if (text_[pos_] == '&') entity();
                else ++pos_;
            }
            if (pos_ >= text_.size()) fail("the value of attribute " + attribute + " is never closed");
            ++pos_;
        }
    }
    // At '<' of a start tag: the whole element, its content and its end tag.
    void element() {
        ++pos_;
        const std::string tag = name();
        std::set<std::string> seen;
        attributes(seen);
        if (starts_with("/>")) {
            pos_ += 2;
            return;
        }
        if (text_[pos_] != '>') fail("expected '>' or '/>' to end <" + tag);
        ++pos_;
        for (;;) {
            if (pos_ >= text_.size()) fail("<" + tag + "> is never closed");
            if (starts_with("</")) {
                pos_ += 2;
                const std::string closing = name();
                if (closing != tag) fail("</" + closing + "> closes <" + tag + ">: expected </" + tag + ">");
                skip_space();
                if (pos_ >= text_.size() || text_[pos_] != '>') fail("expected '>' to end </" + tag);
                ++pos_;
                return;
            }
            if (starts_with("<!--")) comment();
            else if (starts_with("<![CDATA[")) skip_past("]]>", "a CDATA section");
            else if (text_[pos_] == '<') element();
            else if (text_[pos_] == '&') entity();
            else ++pos_;
        }
    }

    const std::string& text_;
    size_t pos_ = 0;
};

inline std::string xml_error(const std::string& text) {
    try {
        XmlChecker(text).check_document();
    } catch (const std::runtime_error& error) {
        return error.what();
    }
    return "";
}

// How many start tags (or empty-element tags) named `tag`: "<rect " and "<rect/>", not "<rectangle".
inline size_t count_tags(const std::string& text, const std::string& tag) {
    size_t count = 0;
    for (size_t at = text.find("<" + tag); at != std::string::npos; at = text.find("<" + tag, at + 1)) {
        const char next = at + 1 + tag.size() < text.size() ? text[at + 1 + tag.size()] : '\0';
        count += next == ' ' || next == '/' || next == '>' || next == '\n';
    }
    return count;
}

inline size_t count_class(const std::string& text, const std::string& css_class) {
    size_t count = 0;
    const std::string needle = "class=\"" + css_class + "\"";
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
    return count;
}

// The value of `attribute` in every <tag ...> that has it, in document order (entities left as they are).
inline std::vector<std::string> attribute_values(const std::string& text, const std::string& tag,
                                                 const std::string& attribute) {
    std::vector<std::string> values;
    for (size_t at = text.find("<" + tag + " "); at != std::string::npos; at = text.find("<" + tag + " ", at + 1)) {
        const size_t end = text.find('>', at);
        const size_t found = text.find(" " + attribute + "=\"", at);
        if (found == std::string::npos || found > end) continue;
        const size_t start = found + attribute.size() + 3;
        values.push_back(text.substr(start, text.find('"', start) - start));
    }
    return values;
}

}  // namespace patchgrad::testing
