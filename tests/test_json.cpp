// The JSON value type, parser and writer (core/io/json.h).
#include <bit>
#include <cmath>
#include <limits>

#include "core/io/json.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// The error message parse_json gives for `text`, "" if it parses.
std::string parse_error(std::string_view text) {
    return thrown_message([&] { parse_json(text); });
}

// parse(dump(x)) == x, and dump(parse(dump(x))) == dump(x).
void check_round_trip(const Json& value) {
    const std::string text = value.dump();
    const Json again = parse_json(text);
    CHECK_MESSAGE(again == value, text);
    CHECK(again.dump() == text);
    CHECK(parse_json(value.dump(2)) == value);
}

// A number survives dump and parse with every bit intact.
bool bit_exact_round_trip(double x) {
    const double back = parse_json(Json(x).dump()).as_number();
    return std::bit_cast<uint64_t>(back) == std::bit_cast<uint64_t>(x);
}

}  // namespace

TEST_CASE("json: parse values of every type and read them back") {
    const Json v = parse_json(R"( {"name": "vit", "depth": 6, "lr": 3e-4, "tags": ["a", "b"], "bias": true,
                                  "dropout": null, "nested": {"x": [1, [2, [3]]]}} )");
    CHECK(v.is_object());
    CHECK(v.size() == 7);
    CHECK(v.at("name").as_string() == "vit");
    CHECK(v.at("depth").as_int() == 6);
    CHECK(v.at("lr").as_number() == 3e-4);
    CHECK(v.at("tags").at(1).as_string() == "b");
    CHECK(v.at("bias").as_bool());
    CHECK(v.at("dropout").is_null());
    CHECK(v.at("nested").at("x").at(1).at(1).at(0).as_int() == 3);
    // keys keep the file's order, not alphabetical order
    CHECK(v.as_object()[0].first == "name");
    CHECK(v.as_object()[6].first == "nested");
    CHECK(v.find("absent") == nullptr);
    CHECK(parse_json("  42  ").as_number() == 42);
    CHECK(parse_json("\"\"").as_string().empty());
    CHECK(parse_json("[]").size() == 0);
    CHECK(parse_json("{}").size() == 0);
}

TEST_CASE("json: round trips of nested values keep order and content") {
    Json config = Json::object();
    config.set("zeta", 1).set("alpha", Json::Array{1, 2.5, "three", nullptr, true, Json::object()});
    config.set("model", Json::Object{{"dim", 64}, {"heads", 4}, {"name", "swin-t"}});
    config.set("zeta", 2);  // set replaces in place: zeta stays first
    CHECK(config.dump() ==
          R"({"zeta":2,"alpha":[1,2.5,"three",null,true,{}],"model":{"dim":64,"heads":4,"name":"swin-t"}})");
    check_round_trip(config);
    check_round_trip(Json());
    check_round_trip(Json::array());
    check_round_trip(parse_json(R"([[[[]]], {"a": {"b": {"c": []}}}, "", 0])"));
}

TEST_CASE("json: dump with an indent, as Python's json.dumps(indent=2)") {
    const Json v = parse_json(R"({"a": [1, 2], "b": {}, "c": []})");
    CHECK(v.dump(2) == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}");
    CHECK(v.dump() == R"({"a":[1,2],"b":{},"c":[]})");
}

TEST_CASE("json: strings, escapes and unicode") {
    CHECK(parse_json(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
    CHECK(parse_json(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");  // A, é (U+E9), € (U+20AC)
    // U+1F600 as the surrogate pair D83D DE00: 0x10000 + (0xD83D - 0xD800) * 0x400 + (0xDE00 - 0xDC00) = 0x1F600,
    // in UTF-8 F0 9F 98 80
    CHECK(parse_json(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");
    CHECK(parse_json(R"("\uDBFF\uDFFF")").as_string() == "\xF4\x8F\xBF\xBF");  // U+10FFFF, the last code point
    CHECK(parse_json(R"("\u0000")").as_string() == std::string(1, '\0'));
    // raw UTF-8 passes through, both ways
    const std::string raw = "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80";
    CHECK(parse_json("\"" + raw + "\"").as_string() == raw);
    CHECK(Json(raw).dump() == "\"" + raw + "\"");
    // the writer escapes what must be escaped, and control characters as \u00XX
    CHECK(Json(std::string("q\"b\\n\n\x01\x1f", 8)).dump() == R"("q\"b\\n\n\u0001\u001f")");
    check_round_trip(Json(std::string("\0\x7f\t\xF4\x8F\xBF\xBF", 7)));
}

TEST_CASE("json: numbers round-trip bit for bit; integers print without an exponent") {
    CHECK(Json(0.1).dump() == "0.1");
    CHECK(Json(1e300).dump() == "1e+300");
    CHECK(Json(-2.5).dump() == "-2.5");
    CHECK(Json(3).dump() == "3");
    CHECK(Json(1e15).dump() == "1000000000000000");
    CHECK(Json(-0.0).dump() == "-0");
    CHECK(std::signbit(parse_json("-0").as_number()));
    CHECK(!std::signbit(parse_json("0").as_number()));
    const int64_t two_53 = int64_t(1) << 53;  // 9007199254740992, the last integer every smaller one is exact below
    CHECK(Json(two_53).dump() == "9007199254740992");
    CHECK(Json(-two_53).dump() == "-9007199254740992");
    CHECK(parse_json("9007199254740992").as_int() == two_53);
    CHECK(parse_json("-9007199254740991").as_int() == -two_53 + 1);
    CHECK(parse_json("1.5E+3").as_number() == 1500);
    CHECK(parse_json("-12.25e-2").as_number() == -0.1225);
    for (double x : {0.1, 1e300, -1e-300, 1.0 / 3.0, 5e-324, std::numeric_limits<double>::max(),
                     std::numeric_limits<double>::min(), 123456.789, -0.0, 2e53, 1e22, 0.30000000000000004})
        CHECK_MESSAGE(bit_exact_round_trip(x), x);
    // random bit patterns: every finite double
    Rng rng(1234);
    int failures = 0;
    for (int i = 0; i < 20000; ++i) {
        const double x = std::bit_cast<double>(rng.next_u64());
        if (std::isfinite(x) && !bit_exact_round_trip(x)) ++failures;
    }
    CHECK(failures == 0);
}

TEST_CASE("json: accessors name what they expected and what they found") {
    const Json v = parse_json(R"({"epochs": 10, "name": "vit", "lr": 2.5})");
    const std::string missing = thrown_message([&] { v.at("batch_size"); });
    CHECK(contains(missing, "missing key \"batch_size\""));
    CHECK(contains(missing, "\"epochs\", \"name\", \"lr\""));
    CHECK(contains(thrown_message([&] { v.at("name").as_number(); }), "expected a number but found a string (\"vit\")"));
    CHECK(contains(thrown_message([&] { v.at("lr").as_int(); }), "expected a whole number within +-2^53 but found a number (2.5)"));
    CHECK(contains(thrown_message([&] { v.at("epochs").as_string(); }), "expected a string but found a number (10)"));
    CHECK(contains(thrown_message([&] { v.at(0); }), "expected an array but found an object"));
    CHECK(contains(thrown_message([&] { v.at("epochs").at("x"); }), "expected an object (to look up \"x\") but found a number"));
    CHECK(contains(thrown_message([] { parse_json("[1, 2]").at(2); }), "index 2 is out of range for an array of 2"));
    CHECK(contains(thrown_message([] { parse_json("1e20").as_int(); }), "within +-2^53"));
    CHECK_THROWS_AS(v.at("nope"), std::runtime_error);
    // the writer refuses what JSON cannot say
    CHECK(contains(thrown_message([] { Json(std::nan("")).dump(); }), "no NaN or infinity"));
    CHECK(contains(thrown_message([] { Json(HUGE_VAL).dump(); }), "no NaN or infinity"));
    CHECK(contains(thrown_message([] { Json(std::string("ok\xFF")).dump(); }), "not valid UTF-8 (byte 2"));
    CHECK(contains(thrown_message([] { Json((int64_t(1) << 53) + 1); }), "beyond 2^53"));
}

TEST_CASE("json: every malformed input is refused with the offset, what was expected and what was found") {
    struct Case {
        std::string text;
        std::string fragment;
    };
    const std::vector<Case> cases = {
        {"", "byte 0 (line 1, column 1): expected a value (an object, array, string, number, true, false or null) "
             "but found the end of the input"},
        {"   ", "byte 3"},
        {"[1, 2] x", "byte 7 (line 1, column 8): expected the end of the input after the value but found 'x'"},
        {"{} {}", "byte 3 (line 1, column 4): expected the end of the input"},
        {"\"abc", "byte 4 (line 1, column 5): unterminated string (opened at byte 0)"},
        {"[\"abc]", "unterminated string (opened at byte 1)"},
        {"\"a\\qb\"", "byte 3 (line 1, column 4): expected an escape"},
        {"\"a\\", "byte 3 (line 1, column 4): expected an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX) after "
                  "'\\' but found the end of the input"},
        {"\"\\u12G4\"", "byte 5 (line 1, column 6): expected 4 hex digits after \\u but found 'G'"},
        {"\"\\u12\"", "expected 4 hex digits after \\u but found '\"'"},
        {"\"\\ud83d\"", "expected a low surrogate \\uDC00-\\uDFFF after the high surrogate \\ud83d but found '\"'"},
        {"\"\\ud83d\\u0041\"", "expected a low surrogate \\uDC00-\\uDFFF after the high surrogate \\ud83d but found \\u0041"},
        {"\"\\ude00\"", "byte 1 (line 1, column 2): lone low surrogate \\ude00"},
        {"\"\xFF\"", "byte 1 (line 1, column 2): invalid UTF-8 in a string at byte 0xff"},
        {"\"\xC0\xAF\"", "invalid UTF-8 in a string at byte 0xc0"},          // overlong '/'
        {"\"\xE0\x80\xAF\"", "invalid UTF-8 in a string at byte 0xe0"},      // overlong '/'
        {"\"\xED\xA0\x80\"", "invalid UTF-8 in a string at byte 0xed"},      // the surrogate D800 in UTF-8
        {"\"\xF4\x90\x80\x80\"", "invalid UTF-8 in a string at byte 0xf4"},  // U+110000, beyond Unicode
        {"\"\xF5\x80\x80\x80\"", "invalid UTF-8 in a string at byte 0xf5"},
        {"\"\x80\"", "invalid UTF-8 in a string at byte 0x80"},              // a continuation byte alone
        {"\"\xE2\x82\"", "invalid UTF-8 in a string at byte 0xe2"},          // cut short by the quote
        {"\"\xE2\x82", "invalid UTF-8 in a string at byte 0xe2"},            // cut short by the end
        {"\"a\nb\"", "byte 2 (line 1, column 3): control character 0x0a inside a string"},
        {"\"\t\"", "control character 0x09 inside a string"},
        {"\xEF\xBB\xBF{}", "byte 0 (line 1, column 1): expected a value (an object, array, string, number, true, "
                           "false or null) but found byte 0xef"},  // a byte order mark is not JSON
        {"01", "byte 1 (line 1, column 2): a number may not start with a 0 followed by more digits"},
        {"-", "byte 1 (line 1, column 2): expected a digit after '-' but found the end of the input"},
        {"-a", "expected a digit after '-' but found 'a'"},
        {"1.", "byte 2 (line 1, column 3): expected a digit after the decimal point"},
        {"1.e5", "expected a digit after the decimal point but found 'e'"},
        {"1e", "byte 2 (line 1, column 3): expected a digit in the exponent"},
        {"1e+", "expected a digit in the exponent"},
        {"+1", "expected a value (an object, array, string, number, true, false or null) but found '+'"},
        {".5", "but found '.'"},
        {"0x10", "byte 1 (line 1, column 2): expected the end of the input after the value but found 'x'"},
        {"1e400", "byte 0 (line 1, column 1): number 1e400 is outside the range of a double"},
        {"-1e400", "number -1e400 is outside the range of a double"},
        {"NaN", "but found 'N'"},
        {"Infinity", "but found 'I'"},
        {"tru", "byte 3 (line 1, column 4): expected 'e' (of true) but found the end of the input"},
        {"trUe", "expected 'u' (of true) but found 'U'"},
        {"nul", "expected 'l' (of null)"},
        {"falsey", "expected the end of the input after the value but found 'y'"},
        {"[1,]", "byte 3 (line 1, column 4): expected a value"},
        {"[1 2]", "byte 3 (line 1, column 4): expected ',' or ']' in an array but found '2'"},
        {"[1,2", "expected ',' or ']' in an array but found the end of the input"},
        {"[", "byte 1 (line 1, column 2): expected a value"},
        {"{", "byte 1 (line 1, column 2): expected a key in double quotes but found the end of the input"},
        {"{a: 1}", "expected a key in double quotes but found 'a'"},
        {"{'a': 1}", "expected a key in double quotes but found '''"},
        {"{\"a\" 1}", "byte 5 (line 1, column 6): expected ':' after the key \"a\" but found '1'"},
        {"{\"a\": 1,}", "byte 8 (line 1, column 9): expected a key in double quotes but found '}'"},
        {"{\"a\": 1 \"b\": 2}", "expected ',' or '}' in an object but found '\"'"},
        {"{\"a\": }", "byte 6 (line 1, column 7): expected a value"},
        {"{\"a\": 1, \"a\": 2}", "byte 9 (line 1, column 10): duplicate key \"a\" (first at byte 1)"},
        {"{\"lr\": 1,\n \"depth\": x}", "byte 20 (line 2, column 11): expected a value"},
        {"// comment\n1", "byte 0 (line 1, column 1): expected a value"},
        {std::string("[1,\0 2]", 7), "byte 3 (line 1, column 4): expected a value (an object, array, string, number, "
                                     "true, false or null) but found byte 0x00"},
    };
    for (const Case& c : cases) {
        const std::string message = parse_error(c.text);
        CHECK_MESSAGE(contains(message, c.fragment), "input <", c.text, ">: message <", message, ">, expected <",
                      c.fragment, ">");
        CHECK_THROWS_AS(parse_json(c.text), std::runtime_error);
    }
    // the source name starts the message
    CHECK(contains(thrown_message([] { parse_json("[}", "config.json"); }), "config.json: byte 1 (line 1, column 2)"));
}

TEST_CASE("json: nesting is limited to 64 levels, and 100000 brackets are refused without a crash") {
    const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    CHECK_NOTHROW(parse_json(nested(kMaxJsonDepth)));
    CHECK(contains(parse_error(nested(kMaxJsonDepth + 1)), "byte 64 (line 1, column 65): arrays and objects nested "
                                                           "deeper than 64 levels"));
    CHECK(contains(parse_error(std::string(100000, '[')), "nested deeper than 64 levels"));
    std::string objects;
    for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
    CHECK(contains(parse_error(objects), "nested deeper than 64 levels"));
}

TEST_CASE("json: large inputs parse in linear time") {
    // 200,000 values, a 10 MB string and an object with 100000 keys: quadratic code would take minutes.
    // The array and its 199,999 numbers are kMaxJsonValues values, the most a document may hold.
    std::string numbers = "[";
    for (size_t i = 0; i + 1 < kMaxJsonValues; ++i) numbers += std::to_string(i) + ",";
    numbers.back() = ']';
    const Json array = parse_json(numbers);
    CHECK(array.size() == 199999);
    CHECK(array.at(199998).as_int() == 199998);
    numbers.back() = ',';
    CHECK(contains(parse_error(numbers + "0]"), "more than 200000 values (the limit that bounds memory)"));

    const std::string long_text(10'000'000, 'x');
    CHECK(parse_json("\"" + long_text + "\"").as_string().size() == long_text.size());
    CHECK(contains(parse_error("\"" + long_text), "unterminated string"));

    std::string keys = "{";
    for (int i = 0; i < 100000; ++i) keys += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    CHECK(parse_json(keys.substr(0, keys.size() - 1) + "}").size() == 100000);
    CHECK(contains(parse_error(keys + "\"k5\":0}"), "duplicate key \"k5\" (first at byte"));
}

TEST_CASE("json: mangled documents are refused or parsed, never crash") {
    // Every proper prefix of an object is incomplete, so each must be refused; random byte changes give
    // random inputs that must either parse or throw std::runtime_error (run under `make sanitize` too).
    const std::string document =
        R"({"model": {"dim": [64, 128], "name": "sw\u00efn\ud83d\ude00", "drop": -0.1e-2}, "ok": [true, false, null]})";
    REQUIRE_NOTHROW(parse_json(document));
    for (size_t n = 0; n < document.size(); ++n) CHECK_THROWS_AS(parse_json(document.substr(0, n)), std::runtime_error);
    Rng rng(99);
    int parsed = 0, refused = 0;
    for (int trial = 0; trial < 20000; ++trial) {
        std::string mangled = document;
        const int changes = 1 + static_cast<int>(rng.next_u64() % 3);
        for (int k = 0; k < changes; ++k)
            mangled[rng.next_u64() % mangled.size()] = static_cast<char>(rng.next_u64() % 256);
        try {
            parse_json(mangled);
            ++parsed;
        } catch (const std::runtime_error&) {
            ++refused;
        }
    }
    CHECK(parsed + refused == 20000);
    CHECK(refused > 10000);
}

TEST_CASE("json: is_valid_utf8 reports the first bad byte") {
    size_t bad = 0;
    CHECK(is_valid_utf8("plain ascii"));
    CHECK(is_valid_utf8("\xC3\xA9\xF0\x9F\x98\x80"));
    CHECK(!is_valid_utf8("ab\xC3", &bad));
    CHECK(bad == 2);
    CHECK(!is_valid_utf8("\xC3\xA9x\xC1\x81", &bad));  // C1 81 is an overlong 'A'
    CHECK(bad == 3);
}
