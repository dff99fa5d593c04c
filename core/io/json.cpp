#include "json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include "core/check.h"
#include "utf8.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53: every integer up to here is a double

// Up to `limit` characters of `text`, with "..." when cut: values quoted in error messages stay short.
std::string shortened(std::string text, size_t limit = 40) {
    if (text.size() > limit) text = text.substr(0, limit) + "...";
    return text;
}

// Append code point `cp` (at most U+10FFFF, not a surrogate) to `out` as UTF-8.
void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string hex_byte(unsigned char byte) {
    const char* digits = "0123456789abcdef";
    return std::string("0x") + digits[byte >> 4] + digits[byte & 15];
}

// ---- the parser: recursive descent, one function per grammar rule of RFC 8259 ------------------------
//
//   value  = object / array / string / number / "true" / "false" / "null"
//   object = "{" [ string ":" value *( "," string ":" value ) ] "}"
//   array  = "[" [ value *( "," value ) ] "]"
//   number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]
//
// `pos_` is the offset of the next unread byte; every read checks it against the end first.
class Parser {
public:
    Parser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

    Json parse_document() {
        skip_whitespace();
        Json value = parse_value(0);
        skip_whitespace();
        if (pos_ != text_.size()) fail_expected(pos_, "the end of the input after the value");
        return value;
    }

private:
    // ---- errors: "<source>: byte 17 (line 2, column 9): <what>" ------------------------------------
    [[noreturn]] void fail(size_t offset, const std::string& what) const {
        size_t line = 1, column = 1;
        for (size_t i = 0; i < offset && i < text_.size(); ++i) {  // only on the error path: no cost otherwise
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        throw std::runtime_error(
            format_message(source_, ": byte ", offset, " (line ", line, ", column ", column, "): ", what));
    }

    // 'x' for a printable character, byte 0x0a for others, or "the end of the input".
    std::string found_at(size_t offset) const {
        if (offset >= text_.size()) return "the end of the input";
        const unsigned char c = static_cast<unsigned char>(text_[offset]);
        if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
        return "byte " + hex_byte(c);
    }

    [[noreturn]] void fail_expected(size_t offset, const std::string& expected) const {
        fail(offset, "expected " + expected + " but found " + found_at(offset));
    }

    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }

    void skip_whitespace() {
        while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }

    // `depth` is the number of arrays and objects around this value.
    Json parse_value(int depth) {
        if (++values_ > kMaxJsonValues)
            fail(pos_, "more than " + std::to_string(kMaxJsonValues) + " values (the limit that bounds memory)");
        const char c = peek();
        if (c == '{' || c == '[') {
            if (depth + 1 > kMaxJsonDepth)
                fail(pos_, "arrays and objects nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
            return c == '{' ? parse_object(depth + 1) : parse_array(depth + 1);
        }
        if (c == '"') return Json(parse_string());
        if (c == '-' || (c >= '0' && c <= '9')) return Json(parse_number());
        if (c == 't') return parse_literal("true", Json(true));
        if (c == 'f') return parse_literal("false", Json(false));
        if (c == 'n') return parse_literal("null", Json());
        fail_expected(pos_, "a value (an object, array, string, number, true, false or null)");
    }

    Json parse_literal(std::string_view word, Json value) {
        for (size_t i = 0; i < word.size(); ++i) {
            if (pos_ + i >= text_.size() || text_[pos_ + i] != word[i])
                fail_expected(pos_ + i, std::string("'") + word[i] + "' (of " + std::string(word) + ")");
        }
        pos_ += word.size();
        return value;
    }

    bool digit_at(size_t offset) const { return offset < text_.size() && text_[offset] >= '0' && text_[offset] <= '9'; }

    double parse_number() {
        const size_t start = pos_;
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
            if (digit_at(pos_)) fail(pos_, "a number may not start with a 0 followed by more digits (found " +
                                               found_at(pos_) + " after the leading 0)");
        } else if (digit_at(pos_)) {
            while (digit_at(pos_)) ++pos_;
        } else {
            fail_expected(pos_, "a digit after '-'");
        }
        if (peek() == '.') {
            ++pos_;
            if (!digit_at(pos_)) fail_expected(pos_, "a digit after the decimal point");
            while (digit_at(pos_)) ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!digit_at(pos_)) fail_expected(pos_, "a digit in the exponent");
            while (digit_at(pos_)) ++pos_;
        }
        // The text now matches the JSON grammar, which from_chars (locale-independent) also accepts.
        double value = 0;
        const std::from_chars_result result = std::from_chars(text_.data() + start, text_.data() + pos_, value);
        if (result.ec != std::errc() || result.ptr != text_.data() + pos_)
            fail(start, "number " + shortened(std::string(text_.substr(start, pos_ - start))) +
                            " is outside the range of a double (magnitudes about 4.9e-324 to 1.8e308, or 0)");
        return value;
    }

    // Four hex digits at `offset` (after a \u), as a number.
    uint32_t parse_hex4(size_t offset) const {
        uint32_t value = 0;
        for (size_t i = 0; i < 4; ++i) {
            const char c = offset + i < text_.size() ? text_[offset + i] : '\0';
            uint32_t digit;
            if (c >= '0' && c <= '9') digit = c - '0';
            else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
            else fail_expected(offset + i, "4 hex digits after \\u");
            value = value * 16 + digit;
        }
        return value;
    }

    std::string parse_string() {
        const size_t open = pos_;
        ++pos_;  // the opening quote
        std::string out;
        while (true) {
            if (at_end())
                fail(pos_, "unterminated string (opened at byte " + std::to_string(open) +
                               "): expected '\"' but found the end of the input");
            const unsigned char c = static_cast<unsigned char>(text_[pos_]);
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c == '\\') {
                parse_escape(out);
            } else if (c < 0x20) {
                fail(pos_, "control character " + hex_byte(c) +
                               " inside a string: JSON requires it escaped (\\n, \\t, \\u00XX, ...)");
            } else {
                const size_t length = utf8_sequence_length(reinterpret_cast<const unsigned char*>(text_.data()) + pos_,
                                                           text_.size() - pos_);
                if (length == 0) fail(pos_, "invalid UTF-8 in a string at byte " + hex_byte(c));
                out.append(text_.substr(pos_, length));
                pos_ += length;
            }
        }
    }

    // At a backslash: append the character it stands for to `out`.
    void parse_escape(std::string& out) {
        const size_t backslash = pos_;
        const char e = backslash + 1 < text_.size() ? text_[backslash + 1] : '\0';
        pos_ += 2;
        switch (e) {
            case '"': out += '"'; return;
            case '\\': out += '\\'; return;
            case '/': out += '/'; return;
            case 'b': out += '\b'; return;
            case 'f': out += '\f'; return;
            case 'n': out += '\n'; return;
            case 'r': out += '\r'; return;
            case 't': out += '\t'; return;
            case 'u': break;
            default:
                fail_expected(backslash + 1, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX) after '\\'");
        }
        uint32_t cp = parse_hex4(pos_);
        pos_ += 4;
        // Characters above U+FFFF are written as a UTF-16 surrogate pair: \uD83D\uDE00 is U+1F600.
        //   high in D800..DBFF, low in DC00..DFFF,  cp = 0x10000 + (high - 0xD800) * 0x400 + (low - 0xDC00)
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            fail(backslash, "lone low surrogate \\u" + std::string(text_.substr(backslash + 2, 4)) +
                                " (a low surrogate must follow a high surrogate \\uD800-\\uDBFF)");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!(pos_ + 1 < text_.size() && text_[pos_] == '\\' && text_[pos_ + 1] == 'u'))
                fail_expected(pos_, "a low surrogate \\uDC00-\\uDFFF after the high surrogate \\u" +
                                        std::string(text_.substr(backslash + 2, 4)));
            const uint32_t low = parse_hex4(pos_ + 2);
            if (low < 0xDC00 || low > 0xDFFF)
                fail(pos_, "expected a low surrogate \\uDC00-\\uDFFF after the high surrogate \\u" +
                               std::string(text_.substr(backslash + 2, 4)) + " but found \\u" +
                               std::string(text_.substr(pos_ + 2, 4)));
            pos_ += 6;
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (low - 0xDC00);
        }
        append_utf8(out, cp);
    }

    Json parse_array(int depth) {
        ++pos_;  // '['
        Json::Array items;
        skip_whitespace();
        if (peek() == ']') {
            ++pos_;
            return Json(std::move(items));
        }
        while (true) {
            skip_whitespace();
            items.push_back(parse_value(depth));
            skip_whitespace();
            if (peek() == ',') {
                ++pos_;
            } else if (peek() == ']') {
                ++pos_;
                return Json(std::move(items));
            } else {
                fail_expected(pos_, "',' or ']' in an array");
            }
        }
    }

    Json parse_object(int depth) {
        ++pos_;  // '{'
        Json::Object entries;
        std::vector<size_t> key_offsets;  // where each key starts, for the duplicate-key message
        skip_whitespace();
        if (peek() == '}') {
            ++pos_;
            return Json(std::move(entries));
        }
        while (true) {
            skip_whitespace();
            if (peek() != '"') fail_expected(pos_, "a key in double quotes");
            key_offsets.push_back(pos_);
            std::string key = parse_string();
            skip_whitespace();
            if (peek() != ':') fail_expected(pos_, "':' after the key \"" + shortened(key) + "\"");
            ++pos_;
            skip_whitespace();
            Json value = parse_value(depth);
            entries.emplace_back(std::move(key), std::move(value));
            skip_whitespace();
            if (peek() == ',') {
                ++pos_;
            } else if (peek() == '}') {
                ++pos_;
                break;
            } else {
                fail_expected(pos_, "',' or '}' in an object");
            }
        }
        refuse_duplicate_keys(entries, key_offsets);
        return Json(std::move(entries));
    }

    // RFC 8259 leaves duplicate keys to the implementation; we refuse them (a checkpoint with two tensors
    // of the same name is corrupt). Sorting the keys finds duplicates in n log n, not n^2.
    void refuse_duplicate_keys(const Json::Object& entries, const std::vector<size_t>& key_offsets) const {
        std::vector<std::pair<std::string_view, size_t>> keys;  // (key, offset), sorted below
        for (size_t i = 0; i < entries.size(); ++i) keys.emplace_back(entries[i].first, key_offsets[i]);
        std::sort(keys.begin(), keys.end());
        for (size_t i = 1; i < keys.size(); ++i)
            if (keys[i].first == keys[i - 1].first)
                fail(keys[i].second, "duplicate key \"" + shortened(std::string(keys[i].first)) +
                                         "\" (first at byte " + std::to_string(keys[i - 1].second) + ")");
    }

    std::string_view text_;
    std::string_view source_;
    size_t pos_ = 0;
    size_t values_ = 0;  // values begun so far, for kMaxJsonValues
};

// ---- writing ------------------------------------------------------------------------------------------

void append_quoted(std::string& out, const std::string& text) {
    size_t bad = 0;
    check(is_valid_utf8(text, &bad), "json: cannot write a string that is not valid UTF-8 (byte ", bad, " of \"",
          shortened(text), "\")");
    out += '"';
    for (const char ch : text) {
        const unsigned char c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) out += "\\u00" + hex_byte(c).substr(2);  // other control characters
                else out += ch;                                         // UTF-8 bytes pass through
        }
    }
    out += '"';
}

void append_number(std::string& out, double value) {
    check(std::isfinite(value), "json: cannot write the number ", value, ": JSON has no NaN or infinity");
    char buffer[32];
    std::to_chars_result result;
    if (value == 0 && std::signbit(value)) {
        out += "-0";  // JSON can say -0, and reading "-0" gives -0.0 back
        return;
    }
    if (value == std::trunc(value) && std::abs(value) <= kMaxExactInteger) {
        result = std::to_chars(buffer, buffer + sizeof(buffer), static_cast<int64_t>(value));  // 3, not 3.0 or 3e0
    } else {
        result = std::to_chars(buffer, buffer + sizeof(buffer), value);  // the shortest text that reads back exactly
    }
    out.append(buffer, result.ptr);
}

void append_newline_and_indent(std::string& out, int indent, int depth) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * depth, ' ');
}

std::string describe(const Json& value) {
    std::string text = value.type_name();
    if (value.is_string()) text += " (\"" + shortened(value.as_string()) + "\")";
    if (value.is_number() && std::isfinite(value.as_number())) text += " (" + value.dump() + ")";
    if (value.is_bool()) text += value.as_bool() ? " (true)" : " (false)";
    return text;
}

// The accessors' error: "json: expected a number but found a string ("vit")". Accessors call it only
// on the error path (check_io(ok, ..., describe(*this)) would build the description on every call).
[[noreturn]] void type_error(const std::string& expected, const Json& found) {
    throw std::runtime_error("json: expected " + expected + " but found " + describe(found));
}

}  // namespace

// ---- Json ---------------------------------------------------------------------------------------------

// (Compared as integers: 2^53 + 1 would round to 2^53 as a double and pass a test made in doubles.)
constexpr int64_t kMaxExactInt64 = int64_t(1) << 53;

Json::Json(int64_t value) : type_(Type::number), number_(static_cast<double>(value)) {
    check(value >= -kMaxExactInt64 && value <= kMaxExactInt64, "json: the integer ", value,
          " is beyond 2^53 and would not survive as a double");
}

Json::Json(uint64_t value) : type_(Type::number), number_(static_cast<double>(value)) {
    check(value <= static_cast<uint64_t>(kMaxExactInt64), "json: the integer ", value,
          " is beyond 2^53 and would not survive as a double");
}

const char* Json::type_name() const {
    switch (type_) {
        case Type::null: return "null";
        case Type::boolean: return "a boolean";
        case Type::number: return "a number";
        case Type::string: return "a string";
        case Type::array: return "an array";
        case Type::object: return "an object";
    }
    return "?";
}

bool Json::as_bool() const {
    if (!is_bool()) type_error("a boolean", *this);
    return bool_;
}

double Json::as_number() const {
    if (!is_number()) type_error("a number", *this);
    return number_;
}

int64_t Json::as_int() const {
    if (!is_number() || number_ != std::trunc(number_) || std::abs(number_) > kMaxExactInteger)
        type_error("a whole number within +-2^53", *this);
    return static_cast<int64_t>(number_);
}

const std::string& Json::as_string() const {
    if (!is_string()) type_error("a string", *this);
    return string_;
}

const Json::Array& Json::as_array() const {
    if (!is_array()) type_error("an array", *this);
    return array_;
}

const Json::Object& Json::as_object() const {
    if (!is_object()) type_error("an object", *this);
    return object_;
}

Json::Array& Json::as_array() {
    if (!is_array()) type_error("an array", *this);
    return array_;
}

Json::Object& Json::as_object() {
    if (!is_object()) type_error("an object", *this);
    return object_;
}

const Json* Json::find(std::string_view key) const {
    if (!is_object()) type_error("an object (to look up \"" + std::string(key) + "\")", *this);
    for (const auto& [name, value] : object_)
        if (name == key) return &value;
    return nullptr;
}

const Json& Json::at(std::string_view key) const {
    const Json* value = find(key);
    if (!value) {
        std::string keys;
        for (size_t i = 0; i < object_.size() && i < 10; ++i) keys += (i ? ", \"" : "\"") + object_[i].first + "\"";
        if (object_.size() > 10) keys += ", ...";
        check_io(false, "json: missing key \"", key, "\" (the object has ", object_.empty() ? "no keys" : keys, ")");
    }
    return *value;
}

Json& Json::set(std::string_view key, Json value) {
    Object& entries = as_object();
    for (auto& [name, existing] : entries) {
        if (name == key) {
            existing = std::move(value);
            return *this;
        }
    }
    entries.emplace_back(std::string(key), std::move(value));
    return *this;
}

const Json& Json::at(size_t index) const {
    const Array& items = as_array();
    check_io(index < items.size(), "json: index ", index, " is out of range for an array of ", items.size(),
             " elements");
    return items[index];
}

Json& Json::push_back(Json value) {
    as_array().push_back(std::move(value));
    return *this;
}

size_t Json::size() const {
    if (is_array()) return array_.size();
    if (!is_object()) type_error("an array or an object (to take its size)", *this);
    return object_.size();
}

bool Json::operator==(const Json& other) const {
    if (type_ != other.type_) return false;
    switch (type_) {
        case Type::null: return true;
        case Type::boolean: return bool_ == other.bool_;
        case Type::number: return number_ == other.number_;
        case Type::string: return string_ == other.string_;
        case Type::array: return array_ == other.array_;
        case Type::object: return object_ == other.object_;
    }
    return false;
}

std::string Json::dump(int indent) const {
    std::string out;
    dump_to(out, indent, 0);
    return out;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
    switch (type_) {
        case Type::null: out += "null"; return;
        case Type::boolean: out += bool_ ? "true" : "false"; return;
        case Type::number: append_number(out, number_); return;
        case Type::string: append_quoted(out, string_); return;
        case Type::array:
            out += '[';
            for (size_t i = 0; i < array_.size(); ++i) {
                if (i) out += ',';
                append_newline_and_indent(out, indent, depth + 1);
                array_[i].dump_to(out, indent, depth + 1);
            }
            if (!array_.empty()) append_newline_and_indent(out, indent, depth);
            out += ']';
            return;
        case Type::object:
            out += '{';
            for (size_t i = 0; i < object_.size(); ++i) {
                if (i) out += ',';
                append_newline_and_indent(out, indent, depth + 1);
                append_quoted(out, object_[i].first);
                out += indent < 0 ? ":" : ": ";
                object_[i].second.dump_to(out, indent, depth + 1);
            }
            if (!object_.empty()) append_newline_and_indent(out, indent, depth);
            out += '}';
            return;
    }
}

// ---- free functions -----------------------------------------------------------------------------------

Json parse_json(std::string_view text, std::string_view source) { return Parser(text, source).parse_document(); }

void append_part(std::ostringstream& os, const Json& value) {
    try {
        os << shortened(value.dump());
    } catch (const std::exception&) {  // NaN or invalid UTF-8, which dump() refuses: the type must do
        os << value.type_name();
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
