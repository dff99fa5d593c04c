#pragma once
// The subcommands of build/patchgrad, one file each in examples/cli/. Each takes the whole argv (the
// subcommand is argv[1]) and returns the process exit code: 0 success, 1 failure, 2 a usage mistake
// (thrown as UsageError, see args.h); `train` also returns 130 / 143 after SIGINT / SIGTERM.
//
// Below the commands: the training loop and the evaluation as plain functions (train.cpp, evaluate.cpp),
// which the commands call and tests/f32/test_training.cpp calls directly.
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "datasets/dataloader.h"
#include "examples/cli/checkpoint.h"
#include "examples/cli/config.h"
#include "examples/cli/time_budget.h"

namespace patchgrad::cli {

int run_bench(int argc, char** argv);    // bench.cpp: training and inference speed of a model
int run_train(int argc, char** argv);    // train.cpp: train a model, with checkpoints and --resume
int run_eval(int argc, char** argv);     // evaluate.cpp: test accuracy, per class, confusion matrix
int run_predict(int argc, char** argv);  // predict.cpp: top-5 classes of an image or a test example
int run_gradcheck(int argc, char** argv);  // gradcheck.cpp: backward passes against finite differences
int run_attention(int argc, char** argv);  // attention.cpp: a PNG of what the model attends to in an image
int run_graph(int argc, char** argv);      // graph.cpp: the autograd graph of a training step, as Graphviz DOT or SVG
int run_export(int argc, char** argv);     // export.cpp: a checkpoint's weights alone, under timm's names
int run_import(int argc, char** argv);     // export.cpp: weights (e.g. from PyTorch) into a checkpoint
int run_explain(int argc, char** argv);    // explain.cpp: SVG pictures of patches, windows, shift, mask, merging
int run_plot(int argc, char** argv);       // plot.cpp: a run's metrics.csv as an SVG of curves
void write_metrics_plot(const std::string& run_dir);  // plot.cpp: RUN_DIR/metrics.csv -> RUN_DIR/metrics.svg

// ---- the training loop (train.cpp) ---------------------------------------------------------------------

struct StepInfo {
    int64_t epoch;  // 0-based
    int64_t batch;  // 0-based, within the epoch
    int64_t step;   // 0-based, since the run began
    double loss;    // this batch's training loss (NaN/Inf for a skipped step)
    double lr;
};

// One row of metrics.csv.
struct EpochMetrics {
    int64_t epoch;        // 1-based
    int64_t step;         // steps taken when the epoch ended
    double lr;            // the learning rate of the epoch's last step
    double train_loss;    // the mean training loss (label smoothing included) over the epoch's steps
    double train_acc;     // the fraction of training images classified right while training (augmented)
    double val_loss;      // plain cross-entropy on the validation split (no smoothing); NaN without one
    double val_acc;       //   what chooses best.safetensors
    double test_loss;     // plain cross-entropy on the test set: reported, never used to choose
    double test_acc;
    double images_per_s;  // training images per second in this epoch
    double seconds;       // the run's time so far, training and evaluation, over every session
    int64_t skipped;      // steps skipped for a non-finite loss or gradient (--skip-nonfinite)
    double peak_rss_mb;   // the process's peak resident memory so far (getrusage), for leak checks
};

// metrics.csv as train writes it: kMetricsHeader, then one metrics_row per epoch (plot.cpp reads it).
extern const char* const kMetricsHeader;
std::string metrics_row(const EpochMetrics& metrics);
// What the readers of metrics.csv take (plot.cpp, kept_metrics_rows in run_files.h): a row per epoch, so
// kMaxEpochs rows; 64 columns (train writes 12); and 16 MB. A row as train writes it is about 90 bytes
// ("21,8211,1e-05,1.234567,0.567890,1.100000,0.600000,1.123456,0.612300,2345.6,1234.5,456.7"): the
// longest run writes about 9 MB.
constexpr int64_t kMaxMetricsRows = kMaxEpochs;
constexpr size_t kMaxMetricsColumns = 64;
constexpr uint64_t kMaxMetricsFileBytes = 16 << 20;

struct TrainOptions {
    std::string resume;                // a checkpoint to continue from ("": start afresh)
    bool force = false;                // start afresh in a folder that holds a run of another config
    std::FILE* progress = nullptr;     // the live progress line (stderr), nullptr: none
    bool progress_interactive = false; // redraw it in place (stderr is a terminal)
    std::FILE* summary = nullptr;      // one line per epoch (stdout), nullptr: none
    // Hooks, for tests: they see (and may change) what the loop sees.
    std::function<void(int64_t step, Batch& batch, ImageClassifier& model)> on_batch;  // before the forward
    std::function<void(int64_t step, ImageClassifier& model)> on_gradients;        // after the backward
    std::function<void(const StepInfo& info)> after_step;                         // after the update
    std::function<void(const EpochMetrics& metrics)> after_epoch;                 // after the checkpoints
    std::function<void(BudgetPlanInput& measured)> on_budget_probe;               // --time: before the plan
    std::function<void(BudgetPlanInput& measured)> on_budget_remeasure;  // --time: before the plan made again
};

enum class TrainStatus {
    completed,    // every epoch ran
    interrupted,  // a stop was requested (SIGINT, SIGTERM): `last` holds a resumable checkpoint
    nonfinite,    // a NaN or Inf loss or gradient: stopped, `last` untouched (message says where)
    out_of_time,  // a --time budget ran out before the planned steps (a machine that slowed down): `last`
                  // holds a resumable checkpoint, `best` the best epoch so far (message says where)
};

struct TrainResult {
    TrainStatus status = TrainStatus::completed;
    int signal = 0;                     // the signal that stopped it (interrupted)
    std::string message;                // for interrupted and nonfinite: what happened, where, what to do
    std::string out;                    // the run's folder
    std::vector<EpochMetrics> epochs;   // the epochs completed in this session
    TrainingState state;                // where the run stands now
};

// Trains `config` (validated first), writing config.json, metrics.csv, last.safetensors and
// best.safetensors into config.out (or runs/<dataset>-<model>-<time>, created). Throws for errors of
// the input (missing data, a checkpoint that does not fit: UsageError when it is the config's fault).
TrainResult train(const TrainConfig& config, const TrainOptions& options = {});

// Signals. The process's one piece of global state (train.cpp): a volatile std::sig_atomic_t holding
// the signal that asked training to stop, 0 when none. request_stop is the signal handler run_train
// installs for SIGINT and SIGTERM (a second signal, while the first is being handled, restores the
// default action and re-raises it: a second Ctrl-C quits at once); tests call it to simulate one. The
// loop checks stop_requested() after every step and every evaluation batch; train() clears it on entry.
void request_stop(int signal);
int stop_requested();
void clear_stop_request();

// ---- evaluation (evaluate.cpp) -------------------------------------------------------------------------

struct EvalResult {
    int64_t count = 0;                // images evaluated
    double loss = 0;                  // mean cross-entropy, no label smoothing
    double accuracy = 0;              // fraction right
    int64_t num_classes = 0;          // K
    std::vector<int64_t> confusion;   // (K, K): confusion[t * K + p] counts images of class t predicted as p
    bool interrupted = false;         // stopped early by stop_requested() (only when asked to watch it)
};

struct EvalOptions {
    bool eval_flip = false;           // --eval-flip: each image's logits averaged with its mirror image's
    bool watch_stop_request = false;  // stop early, marked interrupted, when stop_requested() (training's)
};

// The logits an evaluation classifies by, (B, K) for images (B, C, H, W): the model's, or with eval_flip
//     z = (f(x) + f(mirror(x))) / 2,
// mirror = mirror_left_right (datasets/augment.h). The caller sets eval mode and NoGradGuard.
Tensor evaluation_logits(ImageClassifier& model, const Tensor& images, bool eval_flip);

// The model in eval mode under NoGradGuard over every batch of `loader` (in order, no augmentation).
EvalResult evaluate(ImageClassifier& model, const DataLoader& loader, int64_t num_classes,
                    const EvalOptions& options = {});

}  // namespace patchgrad::cli
