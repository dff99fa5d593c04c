#pragma once
// The subcommands of build/patchgrad, one file each in examples/cli/. Each takes the whole argv (the
// subcommand is argv[1]) and returns the process exit code: 0 success, 1 failure, 2 a usage mistake
// (thrown as UsageError, see args.h).
namespace patchgrad::cli {

int run_bench(int argc, char** argv);  // bench.cpp: training and inference speed of a model

}  // namespace patchgrad::cli
