// patchgrad train: the training loop, top to bottom. docs/training.md is its chapter.
//
//   hold out --val N training images                 datasets/split.h: the validation split
//   with --time: measure the speed, fix the steps    examples/cli/time_budget.h
//   for each epoch:
//       loader.start_epoch(data_rng)                     this epoch's order (and, per batch, augmentation)
//       for each batch k:
//           lr = warmup_cosine_lr(step)                  optim/schedule.h
//           learning_step(model, batch, lr)              optim/learning_step.h: forward, loss, backward,
//                                                        clip, update; read it first
//       evaluate on the validation split and the test set    NoGradGuard, eval mode
//       save best.safetensors (when the validation accuracy improved; without a split, at the end) and
//       last.safetensors; append metrics.csv
//
// Choosing without the test set: best.safetensors is chosen by validation accuracy; the test set is
// evaluated every epoch for the report only (metrics.csv's test_* columns), never to choose.
//
// Reproducibility: one seed makes four Rngs (weights, data, dropout, the validation split); the data Rng's
// state at the start of an epoch decides the whole epoch (datasets/dataloader.h), so a checkpoint stores
// that state and the batch index, and a resumed run replays the epoch's draws up to the batch where it
// stopped. Everything else the loop needs (weights, optimizer state, step count) is in the checkpoint too,
// so a resumed run computes the same numbers, bit for bit, as a run that never stopped.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <limits>
#include <optional>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/io/atomic_file.h"
#include "core/ops.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "datasets/split.h"
#include "examples/cli/progress.h"
#include "examples/cli/run_files.h"
#include "examples/cli/time_budget.h"
#include "optim/ema.h"
#include "optim/learning_step.h"
#include "optim/schedule.h"

namespace patchgrad::cli {

// ---- signals: the one piece of global state ----------------------------------------------------------

namespace {
// The signal that asked training to stop, 0 when none. Written by the signal handler, read by the loop
// between steps; a volatile sig_atomic_t is what a handler may portably write.
volatile std::sig_atomic_t g_stop_signal = 0;
}  // namespace

void request_stop(int signal) {
    if (g_stop_signal != 0) {  // a second signal: the user insists; die of it now (atomic writes keep files whole)
        std::signal(signal, SIG_DFL);
        std::raise(signal);
        return;
    }
    g_stop_signal = signal;
}
int stop_requested() { return g_stop_signal; }
void clear_stop_request() { g_stop_signal = 0; }

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

const char* signal_name(int signal) {
    return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal";
}

// How many rows of logits (B, K) have their largest entry (the first, on ties) at the label.
int64_t count_correct(const Tensor& logits, const Tensor& labels) {
    const int64_t B = logits.size(0), K = logits.size(1);
    const Scalar* z = logits.data();  // (B, K)
    int64_t correct = 0;
    for (int64_t b = 0; b < B; ++b) {
        int64_t best = 0;
        for (int64_t k = 1; k < K; ++k)
            if (z[b * K + k] > z[b * K + best]) best = k;
        correct += best == static_cast<int64_t>(labels.data()[b]) ? 1 : 0;
    }
    return correct;
}

// "nan", "inf" or "-inf" (printf may say "-nan", whose sign means nothing).
const char* nonfinite_name(double value) { return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf"; }

// The first parameter, in named_parameters() order, whose grad holds a NaN or an Inf.
std::string first_nonfinite_grad(const ImageClassifier& model) {
    for (const auto& [name, p] : model.named_parameters()) {
        const Tensor grad = p.grad();
        if (!grad.defined()) continue;
        const Scalar* g = grad.data();
        for (int64_t j = 0; j < grad.numel(); ++j)
            if (!std::isfinite(g[j])) return format_message("'", name, "' ", p.shape(), " (element ", j, " is ", nonfinite_name(g[j]), ")");
    }
    return "(none found)";
}

// The time budget's probe: a few real training steps (forward and backward on batches the loader draws
// with an Rng of its own, the gradients then cleared: no weight, optimizer state or random draw of the
// run changes) and an evaluation batch, timed. The first steps warm the buffer pool and are not counted.
BudgetPlanInput measure_speed(ImageClassifier& model, DataLoader& loader, const DataLoader& eval_loader,
                              const TrainConfig& config, Optimizer& optimizer) {
    constexpr int64_t kWarm = 2, kTimed = 8;
    Rng probe_rng(0x7072'6f62'65ull);  // "probe": a fixed Rng, apart from the run's own
    loader.start_epoch(probe_rng);
    model.train();
    std::vector<double> step_seconds;
    for (int64_t k = 0; k < kWarm + kTimed; ++k) {
        const Batch batch = loader.batch(k % loader.batches_per_epoch(), probe_rng);
        const auto start = Clock::now();
        optimizer.zero_grad();
        cross_entropy(model.forward(batch.images, probe_rng), batch.labels,
                      static_cast<Scalar>(config.label_smoothing)).backward();
        if (k >= kWarm) step_seconds.push_back(seconds_since(start));
    }
    optimizer.zero_grad();
    std::sort(step_seconds.begin(), step_seconds.end());
    model.eval();
    double eval_seconds = 0;
    int64_t eval_images = 0;
    for (int64_t pass = 0; pass < 2; ++pass) {  // the second pass is timed
        const NoGradGuard no_grad;
        const Batch batch = eval_loader.batch(0, probe_rng);
        const auto start = Clock::now();
        evaluation_logits(model, batch.images, config.eval_flip);  // as evaluate() computes them
        eval_seconds = seconds_since(start);
        eval_images = batch.labels.numel();
    }
    BudgetPlanInput input;
    input.step_s = step_seconds[step_seconds.size() / 2];  // the median
    input.eval_image_s = eval_seconds / static_cast<double>(std::max<int64_t>(1, eval_images));
    return input;
}

}  // namespace

TrainResult train(const TrainConfig& requested, const TrainOptions& options) {
    const auto session_start = Clock::now();
    validate(requested);
    // The run's folder, checked before anything is loaded: a folder that holds another run is refused.
    TrainConfig config = requested;  // a --time budget fixes steps, epochs and warmup_epochs below
    config.out = requested.out.empty() ? default_run_folder(requested) : requested.out;
    if (options.resume.empty()) refuse_another_run(config.out, config, options.force);
    clear_stop_request();
#ifdef _OPENMP
    omp_set_num_threads(static_cast<int>(config.threads));
#endif
    TrainResult result;

    // ---- 1. the data, and the model, the optimizer, and where the run stands --------------------------------
    const RunSeeds seeds = run_seeds(config.seed);
    Rng init_rng(seeds.init);  // the initial weights
    TrainingState state;
    state.data_rng = Rng(seeds.data).state();    // the order and augmentation of the data
    state.model_rng = Rng(seeds.model).state();  // dropout, stochastic depth
    const TrainValidationSplit data = load_train_validation_split(config);  // --val: held out with seeds.split
    const ImageDataset test_set = load_dataset(config, false);
    for (const ImageDataset* set : {static_cast<const ImageDataset*>(&data.train), &test_set})
        check_io(set->channels == config.channels && set->height == config.image_size &&
                     set->width == config.image_size && set->num_classes() == config.num_classes,
                 "train: ", dataset_dir(config), " holds images ", Shape{set->channels, set->height, set->width},
                 " of ", set->num_classes(), " classes, the config expects ",
                 Shape{config.channels, config.image_size, config.image_size}, " of ", config.num_classes);
    DataLoader loader(data.train, train_loader_options(config));
    const DataLoader test_loader(test_set, eval_loader_options(config));
    DataLoaderOptions val_options = eval_loader_options(config);
    val_options.limit = 0;  // --test-limit is the test set's
    const DataLoader val_loader(data.validation, val_options);
    const bool has_val = val_loader.size() > 0;
    const int64_t N = loader.batches_per_epoch();  // batches per epoch

    std::unique_ptr<ImageClassifier> model = build_model(config, init_rng);
    std::unique_ptr<Optimizer> optimizer = build_optimizer(config, *model);
    std::unique_ptr<ExponentialMovingAverage> ema;  // --ema: the average that evaluation and readers use
    if (config.ema > 0) ema = std::make_unique<ExponentialMovingAverage>(model->named_parameters(), config.ema);
    if (!options.resume.empty()) {
        const Checkpoint ckpt = read_checkpoint(options.resume);
        const std::string mismatch = resume_mismatch(ckpt.config, config);
        if (!mismatch.empty())
            throw UsageError("patchgrad train: --resume " + options.resume + ": cannot change " + mismatch);
        load_model_state(*model, ckpt.model, options.resume);
        try {
            optimizer->load_state(ckpt.optimizer);
            if (ema) ema->load_state(ckpt.ema);
        } catch (const std::exception& error) {
            throw std::runtime_error(options.resume + ": " + error.what());
        }
        state = ckpt.state;
        check_io(state.batch <= N, options.resume, ": the checkpoint stopped after batch ", state.batch,
                 " of an epoch, but this run's epochs have ", N, " batches");
    }

    // ---- 2. the run's length: fixed by --epochs or --steps, or sized to a --time budget -----------------
    BudgetPlanInput budget;  // what the probe measured (zeros without a budget)
    if (config.time > 0 && config.steps == 0 && options.resume.empty()) {
        budget = measure_speed(*model, loader, test_loader, config, *optimizer);
        budget.budget_s = config.time;
        budget.elapsed_s = seconds_since(session_start);
        budget.save_s = 0.5;  // two checkpoints of a few MB, metrics.csv and metrics.svg: well under this
        budget.steps_per_epoch = N;
        budget.eval_images = val_loader.size() + test_loader.size();
        if (options.on_budget_probe) options.on_budget_probe(budget);
        const BudgetPlan plan = make_plan(budget, config.warmup_epochs);
        if (plan.steps < 1)
            throw UsageError(format_message("patchgrad train: --time ", format_duration(config.time),
                                            " is too short: one step takes ", budget.step_s, " s here and ",
                                            format_duration(budget.elapsed_s), " are spent already"));
        config.steps = plan.steps;
        config.warmup_epochs = plan.warmup_epochs;  // at most a fifth of the run, as with --epochs
    }
    // The run's length. A budgeted run may change it again during its warmup (step 4 of time_budget.h:
    // the plan made again from the run's own speed), before any step depends on it.
    int64_t total_steps = config.steps > 0 ? config.steps : config.epochs * N;
    // Where the epochs start. Epoch e starts at step e N, unless an earlier session ended the run on a
    // partial epoch (a run of --steps S, S not a multiple of N) and this one extends it: the epochs after
    // that one start where it ended. So epoch e >= open_epoch (the epoch under way, or the next one) starts
    // at open_epoch_start + (e - open_epoch) N, and the run of S steps has as many epochs as reach S.
    const int64_t open_epoch = state.epoch, open_epoch_start = state.step - state.batch;
    const auto epoch_start = [&](int64_t e) { return open_epoch_start + (e - open_epoch) * N; };
    const auto epochs_for = [&](int64_t steps) {  // the last epoch may be partial
        return open_epoch + (std::max<int64_t>(0, steps - open_epoch_start) + N - 1) / N;
    };
    if (open_epoch_start != open_epoch * N && config.steps == 0)
        throw UsageError(format_message("patchgrad train: --resume ", options.resume, ": the run's epochs so far took ",
                                        open_epoch_start, " steps, not ", open_epoch, " x ", N,
                                        " (its last epoch was partial, as a run of --steps ends), so --epochs cannot "
                                        "say where it ends: give its new length in steps (--steps S, S > ",
                                        state.step, ")"));
    if (config.steps > 0) {
        config.epochs = epochs_for(config.steps);
        // A warmup longer than the run is the run: the schedule takes min(S, W N) warmup steps either way.
        // Recorded as such, the config stays what validate() accepts (warmup_epochs <= epochs), so the
        // run's checkpoints load in eval, predict, export and --resume.
        config.warmup_epochs = std::min(config.warmup_epochs, static_cast<double>(config.steps) / static_cast<double>(N));
    }
    // --epochs' own bound holds for a plan too: the config is saved with it, and read back by validate().
    if (config.epochs > kMaxEpochs)
        throw UsageError(format_message("patchgrad train: ", config.steps, " steps of ", N, " per epoch make ",
                                        config.epochs, " epochs, more than the ", kMaxEpochs, " a run may have"));
    int64_t epochs = config.epochs;
    // Batches of epoch e (0-based): N, but the last epoch of a run of `steps` takes only what is left.
    const auto batches_in = [&](int64_t e) { return std::min(N, total_steps - epoch_start(e)); };
    const int64_t warmup_steps =
        std::min<int64_t>(total_steps, std::llround(config.warmup_epochs * static_cast<double>(N)));
    const auto lr_at = [&](int64_t step) {
        return warmup_cosine_lr(step, warmup_steps, total_steps, static_cast<Scalar>(config.lr),
                                static_cast<Scalar>(config.min_lr));
    };

    // ---- 3. the run's folder ---------------------------------------------------------------------------
    result.out = config.out;
    std::filesystem::create_directories(result.out);
    const std::string last_path = result.out + "/last.safetensors", best_path = result.out + "/best.safetensors";
    const std::string metrics_path = result.out + "/metrics.csv";
    // Temporary files of an earlier run that was killed (SIGKILL) mid-save: its checkpoints are intact,
    // the half-written copies are litter (core/io/atomic_file.h).
    for (const std::string& path : {last_path, best_path, metrics_path, result.out + "/config.json"})
        remove_stale_temporaries(path);
    write_file_atomically(result.out + "/config.json", to_json(config).dump(2) + "\n");
    std::vector<std::string> metrics_rows = kept_metrics_rows(metrics_path, options.resume.empty() ? 0 : state.epoch);
    const auto write_metrics = [&] {
        std::string text = std::string(kMetricsHeader) + "\n";
        for (const std::string& row : metrics_rows) text += row + "\n";
        write_file_atomically(metrics_path, text);
    };
    write_metrics();
    bool plot_warned = false;  // a failed metrics.svg is reported once, not every epoch

    if (options.summary) {
        std::fprintf(options.summary,
                     "patchgrad train: %s on %s (%lld training, %lld validation, %lld test images), %lld parameters, "
                     "%s lr %g, %lld epochs of %lld steps (%lld steps), %lld threads -> %s\n",
                     config.model.c_str(), config.dataset.c_str(), static_cast<long long>(loader.size()),
                     static_cast<long long>(val_loader.size()), static_cast<long long>(test_loader.size()),
                     static_cast<long long>(model->parameter_count()), config.optimizer.c_str(), config.lr,
                     static_cast<long long>(epochs), static_cast<long long>(N), static_cast<long long>(total_steps),
                     static_cast<long long>(config.threads), result.out.c_str());
        if (budget.budget_s > 0)
            std::fprintf(options.summary,
                         "time budget %s: %.3f s per step and %.2f ms per evaluated image measured, %s spent; "
                         "%lld steps planned to end by %s (written to config.json: --steps %lld repeats the run)\n",
                         format_duration(budget.budget_s).c_str(), budget.step_s, 1000 * budget.eval_image_s,
                         format_duration(budget.elapsed_s).c_str(), static_cast<long long>(total_steps),
                         format_duration(budget.elapsed_s + planned_seconds(budget, total_steps)).c_str(),
                         static_cast<long long>(total_steps));
        if (!options.resume.empty())
            std::fprintf(options.summary, "resuming %s at epoch %lld, batch %lld/%lld (step %lld)\n",
                         options.resume.c_str(), static_cast<long long>(state.epoch + 1),
                         static_cast<long long>(state.batch), static_cast<long long>(N),
                         static_cast<long long>(state.step));
        if (state.epoch >= epochs)
            std::fprintf(options.summary, "the run has completed its %lld epochs: nothing to do (%s trains "
                                          "further, the cosine stretched to the new end)\n",
                         static_cast<long long>(state.epoch),
                         open_epoch_start == open_epoch * N ? "--epochs N or --steps S" : "--steps S");
        std::fflush(options.summary);
    }

    // ---- 4. the loop -------------------------------------------------------------------------------------
    const double seconds_before = state.seconds;
    const auto run_seconds = [&] { return seconds_before + seconds_since(session_start); };  // over every session
    const auto save = [&](const std::string& path) {
        state.seconds = run_seconds();
        save_checkpoint(path, config, state, data.train.class_names, *model, optimizer.get(), ema.get());
    };
    const auto interrupted = [&](int64_t epoch, int64_t batch, int64_t batches) {  // epoch 1-based
        result.status = TrainStatus::interrupted;
        result.signal = stop_requested();
        result.message = format_message("interrupted by ", signal_name(result.signal), " in epoch ", epoch,
                                        " after batch ", batch, "/", batches, " (step ", state.step, "): saved ",
                                        last_path, "; continue with: patchgrad train --resume ", last_path);
        result.state = state;
        return result;
    };
    ProgressLine progress(options.progress, options.progress_interactive);
    Rng data_rng(0), model_rng(0);
    // Batch k of the epoch: the loader's augmentation, then mixup or CutMix, all drawn from data_rng.
    const MixOptions mixing = mix_options(config);
    const auto draw_batch = [&](int64_t k) {
        Batch batch = loader.batch(k, data_rng);
        mix_batch(batch, mixing, data_rng);
        return batch;
    };
    model_rng.set_state(state.model_rng);
    // A budgeted run times its own steps from step kRemeasureFrom on and plans again from their mean at
    // the end of each warmup epoch (step 4 of time_budget.h), with its evaluations' time once one has run.
    double timed_seconds = 0;
    int64_t timed_steps = 0;
    bool evaluated = false;  // in this session: eval_seconds is then measured, not the probe's estimate
    double eval_seconds = 0;
    const auto plan_again = [&] {
        BudgetPlanInput again = budget;
        again.step_s = timed_seconds / static_cast<double>(timed_steps);
        if (evaluated && again.eval_images > 0) again.eval_image_s = eval_seconds / static_cast<double>(again.eval_images);
        again.elapsed_s = seconds_since(session_start);
        if (options.on_budget_remeasure) options.on_budget_remeasure(again);
        const BudgetPlan current{total_steps, config.warmup_epochs, warmup_steps};
        const BudgetPlan plan = remeasured_plan(current, again, requested.warmup_epochs, state.step);
        const int64_t plan_epochs = epochs_for(plan.steps);
        if (plan.steps == total_steps || plan_epochs > kMaxEpochs) return;
        total_steps = config.steps = plan.steps;
        epochs = config.epochs = plan_epochs;
        config.warmup_epochs = plan.warmup_epochs;
        write_file_atomically(result.out + "/config.json", to_json(config).dump(2) + "\n");
        if (options.summary) {
            progress.finish();
            std::fprintf(options.summary,
                         "time budget: steps %lld to %lld of the run took %.3f s each (the probe: %.3f s); "
                         "%lld steps planned to end by %s (%lld epochs; config.json updated)\n",
                         static_cast<long long>(state.step - timed_steps), static_cast<long long>(state.step),
                         again.step_s, budget.step_s, static_cast<long long>(total_steps),
                         format_duration(again.elapsed_s + planned_seconds(again, total_steps - state.step)).c_str(),
                         static_cast<long long>(epochs));
            std::fflush(options.summary);
        }
    };
    // The last evaluation's duration (validation + test), for the ETA and the budget's deadline; the probe's
    // estimate until one has run.
    eval_seconds = budget.eval_image_s > 0
                       ? budget.eval_image_s * static_cast<double>(val_loader.size() + test_loader.size())
                       : -1;
    const Scalar max_norm = config.clip_grad > 0 ? static_cast<Scalar>(config.clip_grad)
                                                 : std::numeric_limits<Scalar>::max();  // no clipping: norm only

    while (state.epoch < epochs) {
        const int64_t epoch = state.epoch;  // 0-based
        const int64_t batches = batches_in(epoch);
        // This epoch's draws, from its first: replay those of the batches an earlier session already took.
        data_rng.set_state(state.data_rng);
        loader.start_epoch(data_rng);
        for (int64_t k = 0; k < state.batch; ++k) draw_batch(k);
        model->train();
        const auto epoch_start = Clock::now();
        int64_t epoch_images = 0;  // trained in this session, for images/s
        const int64_t first_batch = state.batch;
        bool out_of_time = false;  // the budget's deadline came in this epoch: it ends here, evaluated
        for (int64_t k = first_batch; k < batches; ++k) {
            // The budget's deadline: a step that would leave too little time for the last evaluation and
            // save is not taken (the plan left a margin; a machine that slowed down can still use it up).
            // The epoch then ends where it is, and the time kept for it evaluates and saves that state.
            const double step_estimate =
                k > first_batch ? seconds_since(epoch_start) / static_cast<double>(k - first_batch) : budget.step_s;
            if (config.time > 0 && run_seconds() + step_estimate + std::max(0.0, eval_seconds) + 1 > config.time) {
                out_of_time = true;
                break;
            }
            const auto step_start = Clock::now();
            Batch batch = draw_batch(k);
            if (options.on_batch) options.on_batch(state.step, batch, *model);
            const int64_t B = batch.labels.numel();
            const Scalar lr = lr_at(state.step);

            // The learning step itself (optim/learning_step.h): forward, loss, backward, clip, update.
            LearningStepSettings settings;
            settings.lr = lr;
            settings.label_smoothing = static_cast<Scalar>(config.label_smoothing);
            settings.max_grad_norm = max_norm;
            settings.loss_kernels = model->kernels();
            settings.mixed_labels = batch.mixed_labels;  // a mixed batch is scored against both labels
            settings.mix_weight = static_cast<Scalar>(batch.mix_weight);
            if (options.on_gradients) settings.after_backward = [&] { options.on_gradients(state.step, *model); };
            LearningStepResult stepped;
            std::string fault;
            try {
                stepped = learning_step([&](const Tensor& images) { return model->forward(images, model_rng); },
                                        batch.images, batch.labels, *optimizer, settings);
            } catch (const std::invalid_argument& error) {
                // Some ops refuse non-finite values outright (attention refuses a row of NaN scores rather
                // than return NaN): that is the same fault, met earlier. Any other error is a bug: rethrown.
                const std::string what = error.what();
                if (what.find("NaN") == std::string::npos && what.find("finite") == std::string::npos) throw;
                fault = "the forward pass met a non-finite value: " + what;
            }
            const double loss_value = fault.empty() ? stepped.loss : std::nan("");
            if (fault.empty() && !std::isfinite(stepped.loss))
                fault = format_message("the loss is ", nonfinite_name(stepped.loss));
            else if (fault.empty() && !stepped.stepped)
                fault = format_message("the gradient norm is ", nonfinite_name(stepped.grad_norm),
                                       "; the first parameter with a non-finite gradient is ",
                                       first_nonfinite_grad(*model));
            if (!fault.empty()) {
                const std::string where = format_message("step ", state.step, " (epoch ", epoch + 1, ", batch ", k + 1,
                                                         "/", batches, "): ", fault);
                optimizer->zero_grad();
                if (!config.skip_nonfinite) {
                    progress.finish();
                    result.status = TrainStatus::nonfinite;
                    result.message = where + "; training stopped, " +
                                     (std::filesystem::exists(last_path)
                                          ? last_path + " (untouched) is the last good checkpoint"
                                          : std::string("before its first checkpoint")) +
                                     " (--skip-nonfinite skips such steps instead)";
                    result.state = state;
                    return result;
                }
                ++state.skipped;
                if (options.progress) {
                    progress.finish();
                    std::fprintf(options.progress, "skipped %s\n", where.c_str());
                }
            } else {
                state.loss_sum += loss_value * static_cast<double>(B);
                state.correct += count_correct(stepped.logits, batch.labels);
                state.seen += B;
            }
            if (ema && stepped.stepped) ema->update(optimizer->step_count());  // optim/ema.h
            epoch_images += B;
            ++state.step;
            state.batch = k + 1;
            state.model_rng = model_rng.state();
            if (budget.budget_s > 0 && state.step > kRemeasureFrom) {
                timed_seconds += seconds_since(step_start);
                ++timed_steps;
                if (is_replan_step(state.step, N, warmup_steps)) plan_again();
            }

            const double rate = static_cast<double>(epoch_images) / std::max(1e-9, seconds_since(epoch_start));
            const double evals_left = static_cast<double>(epochs - epoch);
            const double eval_estimate =
                eval_seconds >= 0 ? eval_seconds
                                  : static_cast<double>(val_loader.size() + test_loader.size()) / (3 * rate);
            const double images_left = static_cast<double>(total_steps - state.step) * static_cast<double>(loader.size()) /
                                       static_cast<double>(N);
            const double trained = static_cast<double>(std::max<int64_t>(1, state.seen));
            progress.update(epoch + 1, epochs, k + 1, batches, state.loss_sum / trained,
                            static_cast<double>(state.correct) / trained, rate,
                            images_left / rate + evals_left * eval_estimate,
                            config.time > 0 ? config.time - run_seconds() : -1);
            if (options.after_step) options.after_step({epoch, k, state.step - 1, loss_value, lr});
            if (stop_requested()) {
                progress.finish();
                save(last_path);
                return interrupted(epoch + 1, k + 1, batches);
            }
        }
        progress.finish();
        const double train_seconds = seconds_since(epoch_start);

        // The validation split (chooses) and the test set (reported), every epoch; with --ema, of the average.
        const auto eval_start = Clock::now();
        EvalResult val, test;
        {
            std::optional<AveragedWeightsGuard> averaged;
            if (ema) averaged.emplace(*ema);
            const EvalOptions eval_options{.eval_flip = config.eval_flip, .watch_stop_request = true};
            if (has_val) val = evaluate(*model, val_loader, config.num_classes, eval_options);
            if (!val.interrupted) test = evaluate(*model, test_loader, config.num_classes, eval_options);
        }
        if (val.interrupted || test.interrupted) {
            // The epoch's batches are done (all, or up to where the budget stopped it); its evaluation runs on resume.
            save(last_path);
            return interrupted(epoch + 1, state.batch, batches);
        }
        eval_seconds = seconds_since(eval_start);
        evaluated = true;

        // The epoch is complete: record it, then save. The best checkpoint is chosen by validation accuracy;
        // without a validation split nothing chooses, and best.safetensors is the run's final state.
        const double trained = static_cast<double>(std::max<int64_t>(1, state.seen));
        EpochMetrics m{};
        m.epoch = epoch + 1;
        m.step = state.step;
        m.lr = lr_at(std::max<int64_t>(0, state.step - 1));
        m.train_loss = state.loss_sum / trained;
        m.train_acc = static_cast<double>(state.correct) / trained;
        m.val_loss = has_val ? val.loss : std::nan("");
        m.val_acc = has_val ? val.accuracy : std::nan("");
        m.test_loss = test.loss;
        m.test_acc = test.accuracy;
        m.images_per_s = static_cast<double>(epoch_images) / std::max(1e-9, train_seconds);
        m.skipped = state.skipped;
        // Out of time, the state where the run stopped is its final state: without a split it is the best.
        const bool best = has_val ? val.accuracy > state.best_val_acc : epoch + 1 == epochs || out_of_time;
        if (!out_of_time) {  // a stopped epoch stays open: --resume takes its remaining batches
            state.epoch = epoch + 1;
            state.batch = 0;
            state.data_rng = data_rng.state();  // the next epoch starts where this one's draws ended
            state.loss_sum = 0;
            state.correct = state.seen = state.skipped = 0;
        }
        if (best) {
            state.best_val_acc = has_val ? val.accuracy : -1;
            state.best_test_acc = test.accuracy;
            state.best_epoch = epoch + 1;
            save(best_path);
        }
        save(last_path);
        m.seconds = state.seconds;
        m.peak_rss_mb = peak_rss_mb();
        metrics_rows.push_back(metrics_row(m));
        write_metrics();
        try {
            write_metrics_plot(result.out);  // metrics.svg next to metrics.csv (plot.cpp)
        } catch (const std::exception& error) {  // a picture is not worth stopping a run for
            if (!plot_warned)
                std::fprintf(stderr, "patchgrad train: warning: metrics.svg not written: %s\n",
                             error_line(error.what()).c_str());  // the message may quote metrics.csv
            plot_warned = true;
        }
        result.epochs.push_back(m);
        if (options.summary) {
            char val_text[64] = "";
            if (has_val) std::snprintf(val_text, sizeof val_text, "  val loss %.4f acc %.2f%%", m.val_loss, 100 * m.val_acc);
            std::fprintf(options.summary,
                         "epoch %lld/%lld  train loss %.4f acc %.2f%%%s  test loss %.4f acc %.2f%%  lr %.3g  %.0f img/s  "
                         "%s%s%s%s\n",
                         static_cast<long long>(m.epoch), static_cast<long long>(epochs), m.train_loss,
                         100 * m.train_acc, val_text, m.test_loss, 100 * m.test_acc, m.lr, m.images_per_s,
                         format_duration(m.seconds).c_str(), best && has_val ? "  (best)" : "",
                         m.skipped ? format_message("  skipped ", m.skipped, " steps").c_str() : "",
                         out_of_time ? format_message("  (stopped after batch ", state.batch, "/", batches, ")").c_str()
                                     : "");
            std::fflush(options.summary);
        }
        if (out_of_time) {
            char accuracy[32];
            std::snprintf(accuracy, sizeof accuracy, "%.2f%%", 100 * test.accuracy);
            result.status = TrainStatus::out_of_time;
            result.message = format_message(
                "the time budget (", format_duration(config.time), ") ran out in epoch ", epoch + 1, " after batch ",
                state.batch, "/", batches, " (step ", state.step, " of ", total_steps, "); that state was evaluated ",
                "(test accuracy ", accuracy, ") and saved in ", last_path,
                has_val ? "; best.safetensors holds the epoch of the best validation accuracy"
                        : " and best.safetensors",
                "; the schedule's last ", total_steps - state.step, " steps were not taken (to take them, ",
                "without the budget: patchgrad train --resume ", last_path, " --steps ", total_steps, ")");
            result.state = state;
            return result;
        }
        if (options.after_epoch) options.after_epoch(m);
        if (stop_requested() && state.epoch < epochs) return interrupted(epoch + 1, batches, batches);  // `last` saved
    }
    result.state = state;
    return result;
}

int run_train(int argc, char** argv) {
    TrainConfig config;
    TrainOptions options;
    if (!parse_train_config(argc, argv, config, options.resume, &options.force)) return 0;
    options.progress = stderr;
    options.progress_interactive = isatty(fileno(stderr)) != 0;
    options.summary = stdout;

    // Ctrl-C and SIGTERM only set a flag; the loop finishes its step, saves `last` and returns.
    struct sigaction action {}, old_int{}, old_term{};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);
    // A file size limit (`ulimit -f`) must fail the write with EFBIG, which write_file_atomically reports
    // and cleans up after, rather than kill the process with SIGXFSZ and leave a temporary file behind.
    std::signal(SIGXFSZ, SIG_IGN);
    TrainResult result;
    try {
        result = train(config, options);
    } catch (...) {
        sigaction(SIGINT, &old_int, nullptr);
        sigaction(SIGTERM, &old_term, nullptr);
        throw;
    }
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);

    switch (result.status) {
        case TrainStatus::completed:
            if (result.state.best_val_acc >= 0)
                std::printf("done: best validation accuracy %.2f%% (epoch %lld), its test accuracy %.2f%%; "
                            "checkpoints in %s\n",
                            100 * result.state.best_val_acc, static_cast<long long>(result.state.best_epoch),
                            100 * result.state.best_test_acc, result.out.c_str());
            else
                std::printf("done: test accuracy %.2f%% after the last epoch (%lld); checkpoints in %s\n",
                            100 * result.state.best_test_acc, static_cast<long long>(result.state.best_epoch),
                            result.out.c_str());
            return 0;
        case TrainStatus::out_of_time:
            std::fprintf(stderr, "patchgrad train: warning: %s\n", result.message.c_str());
            return 0;
        case TrainStatus::interrupted:
            std::fprintf(stderr, "patchgrad train: %s\n", result.message.c_str());
            return 128 + result.signal;
        case TrainStatus::nonfinite:
            std::fprintf(stderr, "patchgrad train: %s\n", result.message.c_str());
            return 1;
    }
    return 1;
}

}  // namespace patchgrad::cli
