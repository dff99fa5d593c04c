#pragma once
// Training checkpoints: one safetensors file (core/io/safetensors.h, docs/checkpoint_format.md) holding
// everything needed to evaluate the model, or to continue its training bit for bit.
//
//   tensors   the model's parameters and buffers under their timm names ("blocks.0.attn.qkv.weight",
//             "layers.0.blocks.0.attn.relative_position_index"), so Python reads them as they are;
//             the optimizer's state under "optimizer.<name>" ("optimizer.exp_avg.head.weight",
//             "optimizer.step", see optim/optimizer.h); with --ema, the averaged weights under "ema.<name>"
//             ("ema.head.weight", optim/ema.h), which every reader but --resume evaluates
//   metadata  (all strings, as safetensors wants)
//     patchgrad.format    "patchgrad-checkpoint"      patchgrad.version  "1"
//     config              the TrainConfig as JSON (examples/cli/config.h): the model is rebuilt from it
//     class_names         a JSON array of the dataset's class names, in label order
//     epoch               epochs completed                               "3"
//     batch               batches of epoch `epoch` already taken: 0 at an epoch's end; between 1 and the
//                         epoch's batch count after an interruption (that count: its evaluation is pending)
//     step                optimizer steps taken (including skipped ones): the schedule's position
//     data_rng            the data Rng's state at the start of epoch `epoch`, 4 words as decimal strings in a
//                         JSON array: it draws that epoch's order and augmentation (datasets/dataloader.h)
//     model_rng           the dropout Rng's state now, likewise
//     best_val_acc best_epoch    the validation accuracy that chose best.safetensors, and its epoch (-1, 0
//                         before any; best_val_acc stays -1 without a validation split, --val 0, where
//                         best.safetensors is the run's final state). Missing in older files: -1
//     best_test_acc       the test accuracy of best.safetensors: reported, never used to choose (-1: none)
//     loss_sum correct seen skipped seconds   the running sums of the epoch in progress, and the
//                         training seconds so far, so a resumed epoch reports the same numbers
// Doubles are written with 17 significant digits: they read back bit for bit.
#include <memory>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "examples/cli/config.h"
#include "optim/ema.h"

namespace patchgrad::cli {

constexpr const char* kCheckpointFormat = "patchgrad-checkpoint";
constexpr int kCheckpointVersion = 1;

// Where a training run stands. The loop (train.cpp) owns one and saves it with the weights.
struct TrainingState {
    int64_t epoch = 0;            // completed epochs
    int64_t batch = 0;            // batches of epoch `epoch` already taken
    int64_t step = 0;             // batches taken since the run began
    Rng::State data_rng{};        // the data Rng at the start of epoch `epoch`
    Rng::State model_rng{};       // the dropout Rng now
    double best_val_acc = -1;     // in [0, 1]: what chose best.safetensors; -1: nothing yet, or no --val
    int64_t best_epoch = 0;       // 1-based: the epoch best.safetensors holds; 0: none
    double best_test_acc = -1;    // in [0, 1]: best.safetensors' test accuracy, for the report; -1: none
    double loss_sum = 0;          // the epoch in progress: sum of batch loss * batch size
    int64_t correct = 0;          //   training predictions that were right
    int64_t seen = 0;             //   images trained on (skipped steps not counted)
    int64_t skipped = 0;          //   steps skipped for a non-finite loss or gradient (--skip-nonfinite)
    double seconds = 0;           // training and evaluation time so far, over all sessions
};

// What a checkpoint file holds, read back and checked.
struct Checkpoint {
    std::string path;
    TrainConfig config;
    TrainingState state;
    std::vector<std::string> class_names;
    NamedTensors model;      // parameters and buffers, in the file's order
    NamedTensors optimizer;  // the optimizer's state, names without the "optimizer." prefix
    NamedTensors ema;        // the averaged weights (--ema), names with their "ema." prefix, as
                             // ExponentialMovingAverage::load_state takes them; empty without --ema
};

// Writes atomically (a crash leaves the previous file). `optimizer` may be null: weights only. `ema`, when
// given (and not swapped in), adds the averaged weights.
void save_checkpoint(const std::string& path, const TrainConfig& config, const TrainingState& state,
                     const std::vector<std::string>& class_names, const ImageClassifier& model,
                     const Optimizer* optimizer, const ExponentialMovingAverage* ema = nullptr);

// Class names reach tables and predict --json's keys: each must be non-empty, printable (printable() in
// args.h changes nothing) and distinct. Throws naming `source` and the name.
void check_class_names(const std::vector<std::string>& names, const std::string& source);

// Reads and checks the file and every metadata field (each error names the file and the field).
Checkpoint read_checkpoint(const std::string& path);
// The same checks on a file already decoded (decode_safetensors): what read_checkpoint(path) does after
// load_safetensors, and how the fuzzer reaches it (tests/fuzz/targets.cpp). `path` names it in errors.
Checkpoint read_checkpoint(const SafetensorsFile& file, const std::string& path);
TrainConfig read_checkpoint_config(const std::string& path);

// Copies `tensors` into the model's parameters and buffers. The names must be exactly the model's (an
// unknown or missing name is refused, listing them) and every shape must match (refused naming the
// tensor, the checkpoint's shape and the model's), every value finite, and every buffer equal to the
// one the model computes from its config (the buffers are derived: checked, never taken from the file).
// Nothing is changed unless everything matches. read_checkpoint refuses non-finite tensors too,
// optimizer state included.
void load_model_state(ImageClassifier& model, const NamedTensors& tensors, const std::string& source);

// The model a checkpoint describes, built from its config, with its weights, in eval mode: the averaged
// weights when the checkpoint holds them (--ema), since those are what training evaluated.
std::unique_ptr<ImageClassifier> model_from_checkpoint(const Checkpoint& checkpoint, Kernels kernels = Kernels::fast);

}  // namespace patchgrad::cli
