// Every numeric flag of the command line refuses a bad value (docs/reliability.md): out of range, not a
// number, NaN, infinity, overflowing, or inconsistent with another flag. Table-driven: each row is the
// words after the command, the flag that is wrong and its value; the UsageError (exit code 2 in
// examples/cli/main.cpp) must name both. Also the conflicting flags that are refused by name, and the
// same ranges for a config read from a file (validate), where no flag parser stands in front.
#include <cmath>

#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "tests/helpers.h"

using namespace patchgrad;
using namespace patchgrad::cli;

namespace {

struct BadFlag {
    std::vector<std::string> words;  // after "patchgrad COMMAND"
    std::string flag, value;         // what the message must name
};

// The message of the UsageError that `run` throws for `patchgrad command words...`, or a note that it
// threw something else or nothing.
std::string usage_error(int (*run)(int, char**), const std::string& command, std::vector<std::string> words) {
    words.insert(words.begin(), {"patchgrad", command});
    // Should a bad value slip through, train stops at once on the missing data instead of training.
    if (command == "train") words.insert(words.end(), {"--data", "/nonexistent/patchgrad-data"});
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    try {
        run(static_cast<int>(argv.size()), argv.data());
    } catch (const UsageError& error) {
        return error.what();
    } catch (const std::exception& error) {
        return std::string("(not a UsageError: ") + error.what() + ")";
    }
    return "(no error)";
}

// The message names the flag, and the value as "got 'V'", "got V" or "FLAG V".
void check_rows(int (*run)(int, char**), const std::string& command, const std::vector<BadFlag>& rows) {
    for (const BadFlag& row : rows) {
        const std::string message = usage_error(run, command, row.words);
        CAPTURE(message);
        CHECK_MESSAGE(contains(message, "patchgrad " + command + ": "), command, " ", row.flag, " ", row.value);
        CHECK_MESSAGE(contains(message, row.flag), command, " ", row.flag, " ", row.value);
        CHECK_MESSAGE((contains(message, "got '" + row.value + "'") || contains(message, "got " + row.value) ||
                       contains(message, row.flag + " " + row.value)),
                      command, " ", row.flag, " ", row.value);
    }
}

}  // namespace

TEST_CASE("flags: every numeric flag of train refuses bad values, naming the flag and the value") {
    const std::vector<BadFlag> rows = {
        {{"--epochs", "0"}, "--epochs", "0"},
        {{"--epochs", "-3"}, "--epochs", "-3"},
        {{"--epochs", "1.5"}, "--epochs", "1.5"},
        {{"--epochs", "99999999999999999999"}, "--epochs", "99999999999999999999"},
        {{"--epochs="}, "--epochs", ""},
        {{"--epochs", "0x10"}, "--epochs", "0x10"},  // decimal only: no hex, no blanks, no plus sign
        {{"--epochs", " 5"}, "--epochs", " 5"},
        {{"--epochs", "5 "}, "--epochs", "5 "},
        {{"--epochs", "+5"}, "--epochs", "+5"},
        {{"--lr", "0x1p-3"}, "--lr", "0x1p-3"},
        {{"--lr", " 0.1"}, "--lr", " 0.1"},
        {{"--depths", "2, 2"}, "--depths", "2, 2"},
        {{"--batch-size", "0"}, "--batch-size", "0"},
        {{"--batch-size", "65537"}, "--batch-size", "65537"},
        {{"--lr", "0"}, "--lr", "0"},
        {{"--lr", "-0.1"}, "--lr", "-0.1"},
        {{"--lr", "nan"}, "--lr", "nan"},
        {{"--lr", "inf"}, "--lr", "inf"},
        {{"--lr", "1e999"}, "--lr", "1e999"},
        {{"--lr", "0.01x"}, "--lr", "0.01x"},
        {{"--min-lr", "-1e-5"}, "--min-lr", "-1e-5"},
        {{"--min-lr", "0.5"}, "--min-lr", "0.5"},  // above --lr
        {{"--warmup-epochs", "-1"}, "--warmup-epochs", "-1"},
        {{"--warmup-epochs", "nan"}, "--warmup-epochs", "nan"},
        {{"--epochs", "2", "--warmup-epochs", "3"}, "--warmup-epochs", "3"},  // longer than the run
        {{"--weight-decay", "-0.05"}, "--weight-decay", "-0.05"},
        {{"--weight-decay", "inf"}, "--weight-decay", "inf"},
        {{"--optimizer", "sgd", "--momentum", "1"}, "--momentum", "1"},
        {{"--optimizer", "sgd", "--momentum", "-0.9"}, "--momentum", "-0.9"},
        {{"--label-smoothing", "1"}, "--label-smoothing", "1"},
        {{"--label-smoothing", "-0.1"}, "--label-smoothing", "-0.1"},
        {{"--clip-grad", "-1"}, "--clip-grad", "-1"},
        {{"--clip-grad", "nan"}, "--clip-grad", "nan"},
        {{"--patch", "0"}, "--patch", "0"},
        {{"--patch", "5"}, "--patch", "5"},  // does not divide 32
        {{"--patch", "64"}, "--patch", "64"},
        {{"--dim", "0"}, "--dim", "0"},
        {{"--dim", "65537"}, "--dim", "65537"},
        {{"--depth", "0"}, "--depth", "0"},
        {{"--depth", "1025"}, "--depth", "1025"},
        {{"--heads", "0"}, "--heads", "0"},
        {{"--heads", "3"}, "--heads", "3"},  // does not divide --dim 128
        {{"--mlp-dim", "0"}, "--mlp-dim", "0"},
        {{"--mlp-ratio", "0"}, "--mlp-ratio", "0"},
        {{"--mlp-ratio", "65"}, "--mlp-ratio", "65"},
        {{"--mlp-ratio", "1.3"}, "--mlp-ratio", "1.3"},  // 1.3 * 128 is not a whole number
        {{"--dropout", "1"}, "--dropout", "1"},
        {{"--dropout", "-0.1"}, "--dropout", "-0.1"},
        {{"--model", "swin", "--embed-dim", "0"}, "--embed-dim", "0"},
        {{"--model", "swin", "--depths", "2,0,2"}, "--depths", "2,0,2"},
        {{"--model", "swin", "--depths", "2,,2"}, "--depths", "2,,2"},
        {{"--model", "swin", "--swin-heads", "2,-4,8"}, "--swin-heads", "2,-4,8"},
        {{"--model", "swin", "--window", "0"}, "--window", "0"},
        {{"--model", "swin", "--window", "3"}, "--window", "3"},  // does not divide the 16 x 16 grid
        {{"--threads", "0"}, "--threads", "0"},
        {{"--threads", "1025"}, "--threads", "1025"},
        {{"--seed", "-1"}, "--seed", "-1"},
        {{"--seed", "9007199254740993"}, "--seed", "9007199254740993"},  // 2^53 + 1: not exact in JSON
        {{"--limit", "-1"}, "--limit", "-1"},
        {{"--test-limit", "-1"}, "--test-limit", "-1"},
        {{"--eval-batch-size", "0"}, "--eval-batch-size", "0"},
    };
    check_rows(run_train, "train", rows);
    CHECK(rows.size() >= 50);
}

TEST_CASE("flags: the numeric flags of eval, predict, bench and gradcheck refuse bad values") {
    check_rows(run_eval, "eval",
               {{{"--checkpoint", "x", "--batch-size", "0"}, "--batch-size", "0"},
                {{"--checkpoint", "x", "--limit", "-1"}, "--limit", "-1"},
                {{"--checkpoint", "x", "--threads", "0"}, "--threads", "0"},
                {{"--checkpoint", "x", "--threads", "two"}, "--threads", "two"}});
    check_rows(run_predict, "predict",
               {{{"--checkpoint", "x", "--index", "-1"}, "--index", "-1"},
                {{"--checkpoint", "x", "--index", "1", "--top", "0"}, "--top", "0"},
                {{"--checkpoint", "x", "--index", "1", "--top", "1001"}, "--top", "1001"},
                {{"--checkpoint", "x", "--index", "1", "--threads", "0"}, "--threads", "0"}});
    check_rows(run_bench, "bench",
               {{{"--batch", "0"}, "--batch", "0"},
                {{"--threads", "0"}, "--threads", "0"},
                {{"--steps", "0"}, "--steps", "0"},
                {{"--warmup", "-1"}, "--warmup", "-1"}});
    check_rows(run_gradcheck, "gradcheck", {{{"--seed", "-1"}, "--seed", "-1"}});
}

TEST_CASE("flags: conflicting flags are refused by name") {
    const auto train_error = [](const std::vector<std::string>& words) { return usage_error(run_train, "train", words); };
    CHECK(contains(train_error({"--model", "swin", "--depth", "3"}), "--depth shapes a ViT but the model is swin"));
    CHECK(contains(train_error({"--embed-dim", "32"}), "--embed-dim shapes a Swin but the model is vit"));
    CHECK(contains(train_error({"--mlp-ratio", "2", "--mlp-dim", "64"}), "--mlp-ratio and --mlp-dim both"));
    CHECK(contains(train_error({"--momentum", "0.8"}), "--momentum is SGD's, but the optimizer is adamw"));
    CHECK(contains(train_error({"--epochs", "3", "--epochs", "4"}), "--epochs is given twice"));
    CHECK(contains(train_error({"--no-augment=1"}), "--no-augment is a switch and takes no value"));
    CHECK(contains(usage_error(run_predict, "predict", {"--checkpoint", "x", "--index", "3", "img.ppm"}),
                   "give either an IMAGE or --index N"));
    CHECK(contains(usage_error(run_predict, "predict", {"--index", "3"}), "--checkpoint CKPT is required"));
    CHECK(contains(usage_error(run_eval, "eval", {}), "--checkpoint CKPT is required"));
}

TEST_CASE("flags: a config read from a file gets the flags' ranges too (validate)") {
    // No flag parser stands between a checkpoint's config and the program: validate is the check.
    const auto validate_error = [](const std::function<void(TrainConfig&)>& change) {
        TrainConfig c = default_config("vit", "cifar10");
        change(c);
        return thrown_message([&] { validate(c); });
    };
    CHECK(contains(validate_error([](TrainConfig& c) { c.threads = int64_t{1} << 40; }),
                   "--threads must be in [1, 1024], got 1099511627776"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.dim = c.heads = int64_t{1} << 30; }),
                   "--dim, --depth, --heads and the MLP width must be at most 65536, 256, 4096 and 1048576"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.lr = std::nan(""); }), "--lr must be a number > 0"));
    // Every flag's upper bound holds for a config too (one table, kRanges in examples/cli/config.cpp).
    CHECK(contains(validate_error([](TrainConfig& c) { c.epochs = 1000000000; }),
                   "--epochs must be in [1, 100000], got 1000000000"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.batch_size = int64_t{1} << 30; }),
                   "--batch-size must be in [1, 65536], got 1073741824"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.lr = c.min_lr = 1e6; }),
                   "--lr must be in [0, 100], got 1000000"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.weight_decay = 1e300; }),
                   "--weight-decay must be in [0, 100]"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.clip_grad = 1e12; }), "--clip-grad must be in [0, 1000000000]"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.eval_batch_size = 100000; }),
                   "--eval-batch-size must be in [1, 65536], got 100000"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.test_limit = int64_t{1} << 50; }),
                   "--test-limit must be in [0, 1099511627776], got 1125899906842624"));
    CHECK(validate_error([](TrainConfig& c) { c.mlp_dim = 1 << 20; }) == "");  // a ViT's mlp_ratio is derived
    CHECK(contains(validate_error([](TrainConfig& c) { c.label_smoothing = std::nan(""); }), "--label-smoothing"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.dropout = std::nan(""); }), "--dropout"));
    CHECK(contains(validate_error([](TrainConfig& c) { c.momentum = std::nan(""); }), "--momentum"));
    CHECK(contains(validate_error([](TrainConfig& c) {
                       c.model = "swin";
                       c.patch = 2;
                       c.depths = {2000, 2, 2};
                   }),
                   "--depths and --swin-heads must be in [1, 256] and [1, 4096], got 2000"));
    // kMaxBlocks bounds a Swin's blocks in all, as a ViT's depth: a checkpoint of more would have a header
    // larger than its reader accepts (kMaxHeaderBytes).
    CHECK(contains(validate_error([](TrainConfig& c) {
                       c.model = "swin";
                       c.patch = 2;
                       c.depths = {100, 100, 100};
                   }),
                   "--depths makes 300 blocks in all, more than the 256 a model may have"));
    CHECK(validate_error([](TrainConfig& c) {
              c.model = "swin";
              c.patch = 2;
              c.depths = {100, 100, 56};
          }) == "");
    CHECK(contains(validate_error([](TrainConfig& c) {
                       c.model = "swin";
                       c.patch = 2;
                       c.mlp_ratio = 1000;
                   }),
                   "--mlp-ratio must be at most 65536, 1024 and 64"));
    // An MLP of 0.5 x 1 = 0 channels (the width is rounded down) is refused here, not when the model is built.
    CHECK(contains(validate_error([](TrainConfig& c) {
                       c.model = "swin";
                       c.patch = 2;
                       c.embed_dim = 1;
                       c.swin_heads = {1, 1, 1};
                       c.mlp_ratio = 0.5;
                   }),
                   "--mlp-ratio 0.5 x --embed-dim 1 gives the first stage's MLP no channels"));
}
