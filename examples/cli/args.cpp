#include "examples/cli/args.h"

#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "core/io/json.h"

namespace patchgrad::cli {

namespace {

std::string join(const std::vector<std::string>& words, const char* separator) {
    std::string text;
    for (size_t i = 0; i < words.size(); ++i) text += (i ? separator : "") + words[i];
    return text;
}

std::string number_text(double value) {
    std::ostringstream os;
    os << value;
    return os.str();
}

// Whole-string decimal conversions: "12abc", "", " 12", "+12", "0x10", "1e999" and "inf" are refused,
// not read as 12, 0, 16 or infinity. std::from_chars reads decimal digits only, with no leading blanks.
bool parse_int(const std::string& text, int64_t& out) {
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, out);
    return !text.empty() && error == std::errc() && stop == end;
}

bool parse_double(const std::string& text, double& out) {
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, out);
    return !text.empty() && error == std::errc() && stop == end && std::isfinite(out);
}

}  // namespace

std::string printable(std::string_view text) {
    const bool utf8 = is_valid_utf8(text);
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        // C1 controls (U+0080..U+009F) are C2 80..C2 9F in UTF-8; some terminals obey them too.
        const bool c1 = utf8 && c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9F;
        if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8) || c1) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out += escaped;
            if (c1) {
                std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(text[++i]));
                out += escaped;
            }
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string error_line(std::string_view message) {
    if (message.size() <= kMaxErrorLineBytes) return printable(message);
    // Two thirds from the start, a third from the end, each cut where a UTF-8 character starts (a
    // character cut in two would turn the whole line into \x escapes).
    const auto starts_character = [&](size_t i) { return i >= message.size() || (message[i] & 0xC0) != 0x80; };
    size_t head = kMaxErrorLineBytes * 2 / 3, tail = message.size() - kMaxErrorLineBytes / 3;
    while (head > 0 && !starts_character(head)) --head;
    while (!starts_character(tail)) ++tail;
    return printable(message.substr(0, head)) + " ... [" + std::to_string(tail - head) + " bytes left out] ... " +
           printable(message.substr(tail));
}

bool same_file(const std::string& a, const std::string& b) {
    struct stat first {}, second {};
    return ::stat(a.c_str(), &first) == 0 && ::stat(b.c_str(), &second) == 0 && first.st_dev == second.st_dev &&
           first.st_ino == second.st_ino;
}

void refuse_output_over_input(const std::string& command, const std::string& output,
                              const std::vector<std::string>& inputs) {
    for (const std::string& input : inputs)
        if (!input.empty() && same_file(output, input))
            throw UsageError(command + ": the output " + output + " is the input " + input +
                             " (the same file); write the output elsewhere");
}

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void ArgParser::flag(const std::string& name, bool* target, const std::string& help) {
    options_.push_back({name, "", help, "", false, [target](const std::string&) { *target = true; }});
}

void ArgParser::option(const std::string& name, int64_t* target, const std::string& help, int64_t min,
                       int64_t max) {
    options_.push_back({name, "N", help + " [" + std::to_string(min) + ".." + std::to_string(max) + "]",
                        std::to_string(*target), true, [=, this](const std::string& text) {
                            int64_t value = 0;
                            if (!parse_int(text, value) || value < min || value > max)
                                throw UsageError(command_ + ": " + name + " expects a whole number in [" +
                                                 std::to_string(min) + ", " + std::to_string(max) + "], got '" +
                                                 text + "'");
                            *target = value;
                        }});
}

void ArgParser::option(const std::string& name, double* target, const std::string& help, double min, double max) {
    options_.push_back({name, "X", help + " [" + number_text(min) + ".." + number_text(max) + "]",
                        number_text(*target), true, [=, this](const std::string& text) {
                            double value = 0;
                            if (!parse_double(text, value) || value < min || value > max)
                                throw UsageError(command_ + ": " + name + " expects a number in [" +
                                                 number_text(min) + ", " + number_text(max) + "], got '" + text +
                                                 "'");
                            *target = value;
                        }});
}

void ArgParser::option(const std::string& name, std::string* target, const std::string& help,
                       const std::vector<std::string>& choices) {
    const std::string value_name = choices.empty() ? "TEXT" : join(choices, "|");
    options_.push_back({name, value_name, help, *target, true, [=, this](const std::string& text) {
                            bool ok = choices.empty() && !text.empty();
                            for (const std::string& choice : choices) ok = ok || text == choice;
                            if (!ok)
                                throw UsageError(command_ + ": " + name + " expects " +
                                                 (choices.empty() ? std::string("a value")
                                                                  : "one of " + join(choices, ", ")) +
                                                 ", got '" + text + "'");
                            *target = text;
                        }});
}

void ArgParser::option(const std::string& name, std::vector<int64_t>* target, const std::string& help, int64_t min,
                       int64_t max) {
    std::vector<std::string> current;
    for (int64_t v : *target) current.push_back(std::to_string(v));
    options_.push_back({name, "N,N,..", help, join(current, ","), true, [=, this](const std::string& text) {
                            std::vector<int64_t> values;
                            std::stringstream stream(text);
                            std::string item;
                            bool ok = !text.empty() && text.back() != ',';
                            while (ok && std::getline(stream, item, ',')) {
                                int64_t value = 0;
                                ok = parse_int(item, value) && value >= min && value <= max;
                                values.push_back(value);
                            }
                            if (!ok)
                                throw UsageError(command_ + ": " + name + " expects a comma-separated list of " +
                                                 "whole numbers in [" + std::to_string(min) + ", " +
                                                 std::to_string(max) + "], got '" + text + "'");
                            *target = values;
                        }});
}

void ArgParser::positionals(const std::string& name, std::vector<std::string>* target, const std::string& help,
                            size_t max_count) {
    positional_name_ = name;
    positional_help_ = help;
    positionals_ = target;
    max_positionals_ = max_count;
}

const ArgParser::Option* ArgParser::find(const std::string& name) const {
    for (const Option& option : options_)
        if (option.name == name) return &option;
    return nullptr;
}

bool ArgParser::parse(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
        std::string word = argv[i];
        if (word == "--help" || word == "-h") {
            std::cout << help();
            return false;
        }
        if (word.rfind("--", 0) != 0 || word == "--") {
            if (!positionals_ || positionals_->size() >= max_positionals_)
                throw UsageError(command_ + ": unexpected argument '" + word + "' (see --help)");
            positionals_->push_back(word);
            continue;
        }
        std::string value;
        const size_t equals = word.find('=');
        const bool inline_value = equals != std::string::npos;
        if (inline_value) {
            value = word.substr(equals + 1);
            word = word.substr(0, equals);
        }
        const Option* option = find(word);
        if (!option) throw UsageError(command_ + ": unknown flag '" + word + "' (see --help)");
        if (given_.count(word)) throw UsageError(command_ + ": " + word + " is given twice");
        if (option->takes_value && !inline_value) {
            if (i + 1 >= argc) throw UsageError(command_ + ": " + word + " needs a value (see --help)");
            value = argv[++i];
        }
        if (!option->takes_value && inline_value)
            throw UsageError(command_ + ": " + word + " is a switch and takes no value");
        option->set(value);
        given_.insert(word);
    }
    return true;
}

std::string ArgParser::help() const {
    std::ostringstream os;
    os << "usage: " << command_ << " [OPTIONS]";
    if (positionals_) os << " " << positional_name_;
    os << "\n\n" << summary_ << "\n";
    if (positionals_) os << "\n  " << positional_name_ << ": " << positional_help_ << "\n";
    os << "\noptions:\n";
    for (const Option& option : options_) {
        std::string left = option.name + (option.takes_value ? " " + option.value_name : "");
        os << "  " << left;
        os << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ') << option.help;
        if (option.takes_value && !option.default_text.empty()) os << " (default " << option.default_text << ")";
        os << "\n";
    }
    os << "  --help" << std::string(24, ' ') << "show this help\n";
    return os.str();
}

}  // namespace patchgrad::cli
