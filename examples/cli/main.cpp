// build/patchgrad: the command line. Each subcommand lives in its own file in examples/cli/; this file
// only reads the first word and hands over. Exceptions become one line on stderr and exit code 1; usage
// mistakes exit with 2.
#include <exception>
#include <iostream>
#include <string>


namespace {

constexpr const char* kVersion = "0.1.0";

constexpr const char* kUsage = R"(patchgrad: a from-scratch deep-learning framework that trains vision transformers on the CPU

usage: patchgrad COMMAND [OPTIONS]

commands:
  help        show this text
  version     print the version

Training, evaluation and the other tools arrive with the model and training code.
)";

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string command = argc > 1 ? argv[1] : "help";
        if (command == "help" || command == "--help" || command == "-h") {
            std::cout << kUsage;
            return 0;
        }
        if (command == "version" || command == "--version") {
            std::cout << "patchgrad " << kVersion << "\n";
            return 0;
        }
        std::cerr << "patchgrad: unknown command '" << command << "' (see 'patchgrad help')\n";
        return 2;
    } catch (const std::exception& error) {
        std::cerr << "patchgrad: " << error.what() << "\n";
        return 1;
    }
}
