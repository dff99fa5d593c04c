#pragma once
// Json: a small JSON (RFC 8259) value type, parser and writer, for configs, metrics and the header of a
// safetensors checkpoint (core/io/safetensors.h). docs/checkpoint_format.md explains where it is used.
//
//     Json config = parse_json(read_file("config.json", 1 << 20), "config.json");
//     double lr = config.at("optimizer").at("lr").as_number();      // errors name the missing key
//     Json out = Json::object();
//     out.set("epoch", 3).set("loss", 0.25).set("tags", Json::Array{"vit", "cifar10"});
//     write_file_atomically("metrics.json", out.dump(2));
//
// A value is one of null, bool, number (a double, as in JavaScript), string (UTF-8), array, or object.
// Objects keep their keys in insertion order (a vector of pairs, not a map), so a file read and written
// again keeps its order, and a key is found by a linear search: objects here have tens of keys, not
// millions.
//
// The parser trusts nothing: every malformed input throws std::runtime_error naming the byte offset (and
// line and column) and what was expected versus what was found. It refuses trailing garbage,
// unterminated strings, bad escapes and lone surrogates, invalid UTF-8 (checked byte by byte), raw
// control characters in strings, duplicate keys in one object, numbers outside the JSON grammar or the
// range of a double, nesting deeper than kMaxJsonDepth (the parser recurses once per level, so the
// limit also bounds its stack) and more than kMaxJsonValues values (which bounds its memory). It
// reads each byte a bounded number of times: time is linear in the input's size.
//
// The writer prints numbers so that they read back bit for bit: integers (up to 2^53) without an
// exponent or a decimal point ("3", "-0"), everything else in the shortest form that round-trips
// ("0.1", "1e+300"). NaN and infinity have no JSON spelling, so dump() refuses them.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/scalar.h"
#include "utf8.h"  // is_valid_utf8

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// Arrays and objects nested more deeply than this are refused by parse_json.
constexpr int kMaxJsonDepth = 64;
// Documents of more values than this are refused by parse_json. A value takes sizeof(Json) (96 bytes),
// an object's entry 128 with its key, and a growing array or object briefly holds its old elements beside
// the new ones: whatever a document holds, the parser's memory stays under about 50 MB (10 MB of
// "[0,0,0,...]" would otherwise take 800 MB; tests/f32/test_worst_inputs.cpp measures it). The largest
// document patchgrad writes, the header of a checkpoint of kMaxBlocks blocks with AdamW's state and an
// EMA (examples/cli/config.h), holds 121,000.
constexpr size_t kMaxJsonValues = 200'000;

class Json {
public:
    enum class Type { null, boolean, number, string, array, object };
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>;  // insertion order, keys unique

    // ---- construction: Json x = 3;  Json s = "text";  Json a = Json::Array{1, "two"}; ---------------
    Json() = default;  // null
    Json(std::nullptr_t) {}
    Json(bool value) : type_(Type::boolean), bool_(value) {}
    Json(double value) : type_(Type::number), number_(value) {}
    Json(int value) : Json(static_cast<double>(value)) {}
    Json(unsigned value) : Json(static_cast<double>(value)) {}
    Json(int64_t value);   // must be exactly representable as a double: |value| <= 2^53
    Json(uint64_t value);  // likewise (sizes, counts)
    Json(const char* value) : type_(Type::string), string_(value) {}
    Json(std::string value) : type_(Type::string), string_(std::move(value)) {}
    Json(std::string_view value) : type_(Type::string), string_(value) {}
    Json(Array value) : type_(Type::array), array_(std::move(value)) {}
    Json(Object value) : type_(Type::object), object_(std::move(value)) {}
    static Json array() { return Json(Array{}); }
    static Json object() { return Json(Object{}); }

    // ---- what is it ----------------------------------------------------------------------------------
    Type type() const { return type_; }
    const char* type_name() const;  // "null", "a boolean", "a number", "a string", "an array", "an object"
    bool is_null() const { return type_ == Type::null; }
    bool is_bool() const { return type_ == Type::boolean; }
    bool is_number() const { return type_ == Type::number; }
    bool is_string() const { return type_ == Type::string; }
    bool is_array() const { return type_ == Type::array; }
    bool is_object() const { return type_ == Type::object; }

    // ---- reading: each throws std::runtime_error naming the expected and the actual type -------------
    bool as_bool() const;
    double as_number() const;
    int64_t as_int() const;  // a number that is a whole number within +-2^53 (shapes, offsets, counts)
    const std::string& as_string() const;
    const Array& as_array() const;
    const Object& as_object() const;
    Array& as_array();
    Object& as_object();

    // Objects: the value under `key`; at() throws naming the missing key and the keys that are there.
    const Json& at(std::string_view key) const;
    const Json* find(std::string_view key) const;  // nullptr when absent
    bool contains(std::string_view key) const { return find(key) != nullptr; }
    // Set `key` to `value`: replaces the value of an existing key in place, else appends. Chains.
    Json& set(std::string_view key, Json value);

    // Arrays: element `index` (checked), and appending.
    const Json& at(size_t index) const;
    Json& push_back(Json value);
    // Number of elements of an array or entries of an object (throws for other types).
    size_t size() const;

    // ---- writing -------------------------------------------------------------------------------------
    // indent < 0: one line, no spaces ({"a":[1,2]}); indent >= 0: one entry per line, indented by that
    // many spaces per level, as Python's json.dumps(indent=...). Throws for NaN, infinity and strings
    // that are not valid UTF-8.
    std::string dump(int indent = -1) const;

    // Same type and same contents; objects compare in order. Numbers compare as doubles (so -0 == 0).
    bool operator==(const Json& other) const;

private:
    void dump_to(std::string& out, int indent, int depth) const;

    Type type_ = Type::null;
    bool bool_ = false;
    double number_ = 0;
    std::string string_;
    Array array_;
    Object object_;
};

// Parse one JSON value (surrounded by optional whitespace) from `text`. Errors start with `source`
// (a file name, say), then the byte offset: "config.json: byte 17 (line 2, column 9): expected ',' or
// '}' but found ']'".
Json parse_json(std::string_view text, std::string_view source = "json");

// A Json as a part of a check's message (core/check.h): its one-line text, cut after 40 characters
// ("[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1..."): a message stays one short line whatever a file holds.
void append_part(std::ostringstream& os, const Json& value);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
