#pragma once
// ArgParser: the flags of one subcommand, declared once with their default, range and help line.
//
//     int64_t epochs = 30;
//     ArgParser args("patchgrad train", "train a model");
//     args.option("--epochs", &epochs, "passes over the training set", 1, 100000);
//     if (!args.parse(argc, argv)) return 0;     // --help printed the help
//
// Both "--epochs 5" and "--epochs=5" work. Every mistake (an unknown flag, a missing value, a value that
// is not a number, out of range or not one of the choices) throws UsageError with one clear line; the
// command line prints it and exits with code 2. --help prints the flags with their defaults, which are
// the targets' values at the time the flag was declared, so the help never disagrees with the code.
#include <cstdint>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace patchgrad::cli {

struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// `text` with every byte a terminal might obey escaped as \xNN: control characters (ESC, newline, ...),
// DEL, C1 controls and, when the text is not valid UTF-8, every byte above 0x7f. Names read from files
// (class names, tensor names) reach messages and tables through it, never raw.
std::string printable(std::string_view text);

// An error message as the command line prints it: printable, and at most about kMaxErrorLineBytes long.
// A message quotes what a file holds (a tensor's name, a metadata key), and a crafted file can make that
// megabytes long; the line keeps its start (the file, the field) and its end (what was expected) and
// says how much of the middle it left out:  "x.safetensors: tensor 'blocksblocks ... [2999000 bytes left
// out] ... blocks': dtype 'F16' is not supported".
constexpr size_t kMaxErrorLineBytes = 1000;
std::string error_line(std::string_view message);

// Are `a` and `b` one file (or folder)? Compared by device and inode, so "x", "./x", a link to x and a
// hard link all are; false when either does not exist.
bool same_file(const std::string& a, const std::string& b);

// A command never writes over what it reads: throws UsageError when `output` is the same file as one
// of `inputs` ("patchgrad export: the output x.safetensors is the input x.safetensors; write elsewhere").
void refuse_output_over_input(const std::string& command, const std::string& output,
                              const std::vector<std::string>& inputs);

class ArgParser {
public:
    ArgParser(std::string command, std::string summary);

    // A switch: present means true ("--no-augment").
    void flag(const std::string& name, bool* target, const std::string& help);
    void option(const std::string& name, int64_t* target, const std::string& help, int64_t min, int64_t max);
    void option(const std::string& name, double* target, const std::string& help, double min, double max);
    // A string; with choices, the value must be one of them.
    void option(const std::string& name, std::string* target, const std::string& help,
                const std::vector<std::string>& choices = {});
    // A comma-separated list of integers, each within [min, max]: "--depths 2,2,6".
    void option(const std::string& name, std::vector<int64_t>* target, const std::string& help, int64_t min,
                int64_t max);
    // Words that are not flags, in order ("predict CKPT IMAGE"); at most max_count of them.
    void positionals(const std::string& name, std::vector<std::string>* target, const std::string& help,
                     size_t max_count);

    // Parses argv[first ..]. Returns false when --help or -h was given (the help is printed to stdout).
    bool parse(int argc, char** argv, int first = 2);
    bool given(const std::string& name) const { return given_.count(name) > 0; }
    std::string help() const;
    const std::string& command() const { return command_; }  // "patchgrad predict", for messages

private:
    struct Option {
        std::string name, value_name, help, default_text;
        bool takes_value;
        std::function<void(const std::string& value)> set;
    };
    const Option* find(const std::string& name) const;

    std::string command_, summary_;
    std::vector<Option> options_;
    std::string positional_name_, positional_help_;
    std::vector<std::string>* positionals_ = nullptr;
    size_t max_positionals_ = 0;
    std::set<std::string> given_;
};

}  // namespace patchgrad::cli
