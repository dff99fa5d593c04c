#pragma once
// Runs a command-line subcommand's function (examples/cli/commands.h) in-process, for tests: the words
// become its argv ("patchgrad", "attention", ...), and its stdout (what it wrote, the prediction) goes to
// /dev/null while it runs, so the test output stays readable.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace patchgrad::testing {

inline int run_command(int (*command)(int, char**), std::vector<std::string> words) {
    struct QuietStdout {
        int saved;
        QuietStdout() : saved(dup(1)) {
            std::fflush(stdout);
            const int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            close(null);
        }
        ~QuietStdout() {
            std::fflush(stdout);
            dup2(saved, 1);
            close(saved);
        }
    } quiet;
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    return command(static_cast<int>(argv.size()), argv.data());
}

}  // namespace patchgrad::testing
