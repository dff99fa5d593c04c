// Choosing without the test set, and a run sized to a time budget (examples/cli/train.cpp,
// examples/cli/time_budget.h, datasets/split.h):
//   * --val N holds out N training images; best.safetensors is chosen by their accuracy; metrics.csv
//     has the validation columns; without a split best.safetensors is the final state, chosen by nothing;
//   * --time parses durations strictly; the plan is the largest step count that fits; a budgeted run
//     writes its plan into config.json, and `--steps S` repeats it bit for bit; a machine that slows down
//     meets the deadline with a resumable checkpoint; a real budget is kept on the wall clock;
//   * the flags refuse what cannot be meant (--time with --epochs, with --resume; --val too large).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "core/io/atomic_file.h"
#include "core/io/json.h"
#include "examples/cli/commands.h"
#include "examples/cli/progress.h"
#include "examples/cli/run_files.h"
#include "examples/cli/time_budget.h"
#include "optim/schedule.h"
#include "tests/f32/tiny_run.h"
#include "tests/helpers.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::SmallData, testing::TempDir, testing::tiny_config, testing::check_same_tensors, testing::parse,
    testing::usage_error;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

}  // namespace

// ============================================= the validation split =====================================

TEST_CASE("train --val: the best checkpoint is the epoch of the best validation accuracy; test is reported") {
    SmallData data;  // 200 training images, 50 test images
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    c.val = 40;
    c.epochs = 4;
    std::vector<EpochMetrics> seen;
    TrainOptions options;
    options.after_epoch = [&](const EpochMetrics& m) { seen.push_back(m); };
    const TrainResult result = train(c, options);
    REQUIRE(result.status == TrainStatus::completed);
    REQUIRE(seen.size() == 4);
    // The validation accuracy is a fraction of 40 images, the test accuracy of 50.
    size_t best = 0;
    for (size_t e = 0; e < seen.size(); ++e) {
        CHECK(std::isfinite(seen[e].val_acc));
        CHECK(std::round(seen[e].val_acc * 40) == doctest::Approx(seen[e].val_acc * 40).epsilon(1e-9));
        CHECK(std::round(seen[e].test_acc * 50) == doctest::Approx(seen[e].test_acc * 50).epsilon(1e-9));
        if (seen[e].val_acc > seen[best].val_acc) best = e;  // the first of equals, as the loop chooses
    }
    CHECK(result.state.best_epoch == static_cast<int64_t>(best + 1));
    CHECK(result.state.best_val_acc == seen[best].val_acc);
    CHECK(result.state.best_test_acc == seen[best].test_acc);
    const Checkpoint best_ckpt = read_checkpoint(out.file("best.safetensors"));
    CHECK(best_ckpt.state.epoch == static_cast<int64_t>(best + 1));
    CHECK(best_ckpt.state.best_val_acc == seen[best].val_acc);
    // 160 images train: 5 batches of 32 per epoch.
    CHECK(result.state.step == 4 * 5);
    CHECK(first_line(out.file("metrics.csv")) == kMetricsHeader);
    CHECK(contains(kMetricsHeader, "train_acc,val_loss,val_acc,test_loss,test_acc"));
}

TEST_CASE("train --val 0: nothing chooses; best.safetensors is written once, the final state") {
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    bool best_after_first_epoch = true;
    TrainOptions options;
    options.after_epoch = [&](const EpochMetrics& m) {
        if (m.epoch == 1) best_after_first_epoch = std::filesystem::exists(out.file("best.safetensors"));
        CHECK(std::isnan(m.val_acc));
    };
    const TrainResult result = train(c, options);
    REQUIRE(result.status == TrainStatus::completed);
    CHECK_FALSE(best_after_first_epoch);
    check_same_tensors(out.file("best.safetensors"), out.file("last.safetensors"));
    CHECK(result.state.best_val_acc == -1);
    CHECK(result.state.best_epoch == 2);
    CHECK(result.state.best_test_acc == result.epochs.back().test_acc);
    // The validation fields of metrics.csv are empty, not zero.
    std::ifstream in(out.file("metrics.csv"));
    std::string header, row;
    std::getline(in, header);
    std::getline(in, row);
    CHECK(contains(row, ",,"));
}

TEST_CASE("train --val: a split that leaves nothing to train on is refused naming the numbers") {
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    c.val = 200;
    const std::string message = thrown_message([&] { train(c); });
    CHECK(contains(message, "patchgrad: --val 200 holds out all of the 200 training images in " + data.dir.str()));
    CHECK(contains(message, "; at most 199 leaves one to train on"));
}

TEST_CASE("train --steps: a plan of more epochs than --epochs allows is refused before anything is written") {
    // Saved with 100,001 epochs, its config would be refused by validate() when the run is read back, and
    // its metrics.csv would hold more rows than plot reads (kMaxMetricsRows).
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    c.limit = c.batch_size;  // an epoch of one step
    c.steps = kMaxEpochs + 1;
    CHECK(contains(thrown_message([&] { train(c); }),
                   "100001 steps of 1 per epoch make 100001 epochs, more than the 100000 a run may have"));
    CHECK_FALSE(std::filesystem::exists(out.file("config.json")));
}

TEST_CASE("train --steps: a run shorter than its warmup is all warmup, and its checkpoints load and resume") {
    // 3 steps of the 50 in an epoch, with a warmup of 2 epochs (100 steps): the schedule warms up over the
    // 3 steps there are. The config records that warmup, 3/50 of an epoch, not the 2 epochs it was given;
    // with 2 it would say warmup_epochs > epochs, which validate() refuses when the run is read back
    // (eval, predict, export and --resume would all fail on the run's own checkpoint).
    SmallData data;
    TempDir out, straight;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    c.limit = 0;
    c.batch_size = 4;  // 200 images: 50 steps an epoch
    c.warmup_epochs = 2;
    c.steps = 3;
    // Stopped after its first step, then resumed from its checkpoint: the two sessions together are the
    // straight run, bit for bit.
    std::vector<double> lrs;
    TrainOptions options;
    options.after_step = [&](const StepInfo& info) {
        lrs.push_back(info.lr);
        if (info.step == 0) request_stop(SIGINT);
    };
    REQUIRE(train(c, options).status == TrainStatus::interrupted);
    const Checkpoint stopped = read_checkpoint(out.file("last.safetensors"));  // throws if its config is refused
    CHECK(stopped.config.epochs == 1);
    CHECK(stopped.config.warmup_epochs == doctest::Approx(3.0 / 50));
    CHECK(read_config_file(out.file("config.json")).warmup_epochs == doctest::Approx(3.0 / 50));
    options.resume = out.file("last.safetensors");
    options.after_step = [&](const StepInfo& info) { lrs.push_back(info.lr); };
    const TrainResult resumed = train(stopped.config, options);
    REQUIRE(resumed.status == TrainStatus::completed);
    CHECK(resumed.state.step == 3);
    REQUIRE(lrs.size() == 3);
    for (int64_t step = 0; step < 3; ++step)  // lr (step + 1) / W with W = 3: a third, two thirds, all
        CHECK(lrs[step] == doctest::Approx(c.lr * static_cast<double>(step + 1) / 3).epsilon(1e-6));
    c.out = straight.str();
    REQUIRE(train(c).status == TrainStatus::completed);
    check_same_tensors(straight.file("last.safetensors"), out.file("last.safetensors"));
}

TEST_CASE("train --resume --steps: a run that ended on a partial epoch is extended to exactly the new length") {
    // 60 steps of 50 an epoch: epoch 1 whole, epoch 2 ten steps. Resumed with --steps 120, the run goes on
    // from step 60 with an epoch of 50 and one of 10, and its cosine ends at step 120 (it stopped at step
    // 110 when epoch 3 was taken to start at 2 x 50). --epochs cannot say where such a run ends: refused.
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    c.limit = 0;
    c.batch_size = 4;  // 200 images: 50 steps an epoch
    c.warmup_epochs = 0.2;
    c.steps = 60;
    REQUIRE(train(c).status == TrainStatus::completed);
    const Checkpoint first = read_checkpoint(out.file("last.safetensors"));
    CHECK(first.state.step == 60);
    CHECK(first.state.epoch == 2);

    TrainOptions options;
    options.resume = out.file("last.safetensors");
    TrainConfig by_epochs = first.config;
    by_epochs.steps = 0;
    by_epochs.epochs = 4;
    CHECK(contains(thrown_message([&] { train(by_epochs, options); }),
                   "the run's epochs so far took 60 steps, not 2 x 50 (its last epoch was partial, as a run of "
                   "--steps ends), so --epochs cannot say where it ends: give its new length in steps (--steps S, "
                   "S > 60)"));

    TrainConfig longer = first.config;
    longer.steps = 120;
    std::vector<int64_t> epochs_of_steps;
    double last_lr = 0;
    options.after_step = [&](const StepInfo& info) {
        epochs_of_steps.push_back(info.epoch);
        last_lr = info.lr;
    };
    const TrainResult resumed = train(longer, options);
    REQUIRE(resumed.status == TrainStatus::completed);
    CHECK(resumed.state.step == 120);
    CHECK(resumed.state.epoch == 4);
    REQUIRE(epochs_of_steps.size() == 60);
    CHECK(std::count(epochs_of_steps.begin(), epochs_of_steps.end(), 2) == 50);  // epoch 3, whole
    CHECK(std::count(epochs_of_steps.begin(), epochs_of_steps.end(), 3) == 10);  // epoch 4, the rest
    CHECK(last_lr == doctest::Approx(warmup_cosine_lr(119, 10, 120, static_cast<Scalar>(c.lr),
                                                      static_cast<Scalar>(c.min_lr))));
    CHECK(read_checkpoint(out.file("last.safetensors")).config.epochs == 4);
    CHECK(read_config_file(out.file("config.json")).epochs == 4);
}

TEST_CASE("metrics.csv of an older run: its rows are kept under today's columns on resume") {
    TempDir dir;
    write_file_atomically(dir.file("metrics.csv"),
                          "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,images_per_s,seconds,peak_rss_mb\n"
                          "1,7,0.001,2.1,0.2,2.0,0.25,300.0,10.0,400.0\n"
                          "2,14,0.0005,1.9,0.3,1.8,0.35,310.0,20.0,401.0\n");
    const std::vector<std::string> rows = kept_metrics_rows(dir.file("metrics.csv"), 1);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0] == "1,7,0.001,2.1,0.2,,,2.0,0.25,300.0,10.0,400.0");
}

// ============================================= the time budget ==========================================

TEST_CASE("parse_duration: a number and a unit, repeated; anything else refused naming the flag") {
    CHECK(parse_duration("60m", "--time") == 3600);
    CHECK(parse_duration("1.5h", "--time") == 5400);
    CHECK(parse_duration("90s", "--time") == 90);
    CHECK(parse_duration("1h30m", "--time") == 5400);
    CHECK(parse_duration("0.5s", "--time") == 0.5);
    for (const char* bad : {"60", "", "-5m", "5x", "0m", "1e3s", " 5m", "5m ", "m", ".m", "0x10s", "1001h", "5..1m"}) {
        CAPTURE(bad);
        const std::string message = thrown_message([&] { parse_duration(bad, "--time"); });
        CHECK(contains(message, "--time expects a duration such as 60m, 1.5h, 90s or 1h30m, got '"));
    }
    CHECK(contains(thrown_message([] { parse_duration("60", "--time"); }), "the number 60 has no unit"));
    CHECK(contains(thrown_message([] { parse_duration("0m", "--time"); }), "longer than 0"));
}

// By hand: 0.97 x (100 - 10.5) = 86.815 s to fill. A full epoch of N = 10 steps costs 10 x 0.1 s of
// training plus 1000 x 0.001 s of evaluation plus 0.5 s of saving = 2.5 s; 34 epochs take 85 s and
// leave 1.815 s, where a partial epoch of s steps costs 0.1 s + 1.5 s: s = 3 fits (1.8 s), 4 does not.
TEST_CASE("plan_steps: the largest step count whose training, evaluations and saves fit the time left") {
    BudgetPlanInput in;
    in.budget_s = 100;
    in.elapsed_s = 10.5;
    in.step_s = 0.1;
    in.eval_image_s = 0.001;
    in.save_s = 0.5;
    in.steps_per_epoch = 10;
    in.eval_images = 1000;
    CHECK(plan_steps(in) == 343);
    CHECK(planned_seconds(in, 343) == doctest::Approx(86.8));
    CHECK(planned_seconds(in, 344) > kBudgetMargin * (100 - 10.5));
    in.elapsed_s = 99.9;  // 0.097 s left: not one step with its evaluation
    CHECK(plan_steps(in) == 0);
    in.elapsed_s = 120;  // over budget already
    CHECK(plan_steps(in) == 0);
}

// The probe's measurements are replaced by fixed ones (the hook), so the plan is known exactly: 0.97 x
// 60 s = 58.2 s to fill at 0.5 s per step, 0.01 s per evaluated image (250 an epoch: 2.5 s) and 0.5 s per
// save. An epoch of 7 steps (200 images in batches of 32) costs 3.5 + 2.5 + 0.5 = 6.5 s; 8 of them take
// 52 s (56 steps) and leave 6.2 s, where a partial epoch of s steps costs 0.5 s + 3 s: s = 6 fits (6 s).
// The real run takes 62 steps of a few milliseconds, far inside the 60 s.
TEST_CASE("train --time: the plan is written into config.json, and --steps repeats the run bit for bit") {
    SmallData data;
    TempDir budgeted, repeated;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), budgeted.str());
    c.time = 60;
    c.warmup_epochs = 1000;  // far more than a fifth of the plan: cut to it
    c.limit = 0;
    TrainOptions options;
    bool probed = false;
    options.on_budget_probe = [&](BudgetPlanInput& measured) {
        probed = true;
        CHECK(measured.step_s > 0);
        CHECK(measured.eval_image_s > 0);
        CHECK(measured.steps_per_epoch == 7);
        CHECK(measured.eval_images == 50);
        measured.elapsed_s = 0;
        measured.step_s = 0.5;
        measured.eval_image_s = 0.01;
        measured.eval_images = 250;
        measured.save_s = 0.5;
    };
    c.epochs = 1000;  // validate() wants warmup_epochs <= epochs; a budgeted run replaces both
    const TrainResult result = train(c, options);
    REQUIRE(probed);
    REQUIRE(result.status == TrainStatus::completed);
    const TrainConfig written = read_config_file(budgeted.file("config.json"));
    CHECK(written.steps == 62);
    CHECK(written.epochs == 9);  // ceil(62 / 7): the last epoch has 6 steps
    CHECK(written.time == 60);
    CHECK(written.warmup_epochs == doctest::Approx(62.0 / (5 * 7)));  // a fifth of the run
    CHECK(result.state.step == 62);
    CHECK(result.state.epoch == 9);
    CHECK(result.epochs.back().step == 62);

    TrainConfig again = written;
    again.time = 0;
    again.out = repeated.str();
    REQUIRE(train(again).status == TrainStatus::completed);
    check_same_tensors(budgeted.file("last.safetensors"), repeated.file("last.safetensors"));
}

TEST_CASE("remeasured_plan: a new length only when every step taken was a warmup step of the same warmup") {
    BudgetPlanInput probe;
    probe.budget_s = 600;
    probe.step_s = 1.0;  // a slow probe: 0.97 x 600 s fill 11 epochs of 50 steps (50.75 s each) and 23 steps
    probe.eval_image_s = 0.001;
    probe.eval_images = 250;
    probe.save_s = 0.5;
    probe.steps_per_epoch = 50;
    const BudgetPlan current = make_plan(probe, 2);
    CHECK(current.steps == 573);
    CHECK(current.warmup_epochs == 2);  // 2 < 573 / 250: not cut
    CHECK(current.warmup_steps == 100);

    BudgetPlanInput again = probe;
    again.step_s = 0.5;  // the run's own steps: twice as fast. One evaluation (0.75 s) is charged in advance,
    again.elapsed_s = 0; // 0.97 x 599.25 s fill 22 epochs (25.75 s each) and 28 steps: 1,128 after the 45 taken
    const BudgetPlan faster = remeasured_plan(current, again, 2, 45);
    CHECK(faster.steps == 45 + 1128);
    CHECK(faster.warmup_steps == current.warmup_steps);
    // The rest of the run, 1,128 steps and 24 evaluations and saves, fills the 582 s to the margin.
    CHECK((faster.steps - 45) * 0.5 + 24 * 0.75 == doctest::Approx(kBudgetMargin * 600));
    CHECK(planned_seconds(again, faster.steps - 45 + 1) + 0.75 > kBudgetMargin * 600);  // one step more does not fit

    // Kept as it was: a step taken after the warmup (its rate came from the old cosine); ...
    CHECK(remeasured_plan(current, again, 2, 101).steps == current.steps);
    // ... a warmup cut to a fifth of the run, whose length would change with the run's;
    BudgetPlan cut = make_plan(probe, 1000);
    CHECK(cut.warmup_steps == 115);  // round(573 / 5)
    CHECK(remeasured_plan(cut, again, 1000, 45).steps == cut.steps);
    // ... and an epoch under way that the new plan would cut: with 1,000 steps an epoch and a warmup of
    // 50, a plan made again at step 50 must still reach step 1,000.
    BudgetPlanInput long_epochs = probe;
    long_epochs.steps_per_epoch = 1000;
    long_epochs.step_s = 0.1;
    const BudgetPlan long_plan = make_plan(long_epochs, 0.05);
    CHECK(long_plan.steps > 1000);
    CHECK(long_plan.warmup_steps == 50);
    long_epochs.step_s = 1.0;  // about 580 steps fit: the run would end at step 630, inside its first epoch
    CHECK(remeasured_plan(long_plan, long_epochs, 0.05, 50).steps == long_plan.steps);
    long_epochs.step_s = 0.5;  // about 1,160 fit: the first epoch stays whole
    CHECK(remeasured_plan(long_plan, long_epochs, 0.05, 50).steps > 1000);
    // A slower machine shortens the plan just as well.
    again.steps_per_epoch = 50;
    again.step_s = 1.2;  // 9 epochs (60.75 s each) and 28 steps after the 45: 523 steps, still 2 warmup epochs
    const BudgetPlan slower = remeasured_plan(current, again, 2, 45);
    CHECK(slower.steps == 523);
    CHECK(slower.warmup_steps == 100);
}

TEST_CASE("is_replan_step: at the end of each warmup epoch and at the warmup's last step, once 40 steps are timed") {
    // 50 steps an epoch, a warmup of 120: plans again after steps 50, 100 and 120.
    std::vector<int64_t> steps;
    for (int64_t done = 0; done <= 400; ++done)
        if (is_replan_step(done, 50, 120)) steps.push_back(done);
    CHECK(steps == std::vector<int64_t>{50, 100, 120});
    // An epoch of 20 steps ends before 40 are timed (steps 5 to 24): the first plan comes at step 60.
    steps.clear();
    for (int64_t done = 0; done <= 400; ++done)
        if (is_replan_step(done, 20, 100)) steps.push_back(done);
    CHECK(steps == std::vector<int64_t>{60, 80, 100});
    // A warmup too short to time 40 steps: never.
    for (int64_t done = 0; done <= 400; ++done) CHECK_FALSE(is_replan_step(done, 50, 44));
    CHECK(is_replan_step(45, 50, 45));  // exactly enough
}

// The probe is slow (1 s a step); the run's own steps are twice as fast at the end of its first epoch,
// then as slow as the probe at the end of its second, the warmup's last step (the hooks fix the speeds).
// Each plan is the one remeasured_plan gives, config.json says so, the run takes the last plan's 672
// steps, and `--steps 672` repeats it bit for bit: the first 100 steps did not depend on the length.
TEST_CASE("train --time: the plan is made again at each warmup epoch's end, changing nothing already done") {
    SmallData data;
    TempDir budgeted, repeated;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), budgeted.str());
    c.time = 600;
    c.limit = 0;
    c.batch_size = 4;  // 200 images: 50 steps an epoch
    c.epochs = 1000;
    c.warmup_epochs = 2;
    TrainOptions options;
    const auto fix = [](BudgetPlanInput& measured, double step_s) {
        measured.elapsed_s = 0;
        measured.step_s = step_s;
        measured.eval_image_s = 0.001;
        measured.eval_images = 250;
        measured.save_s = 0.5;
    };
    options.on_budget_probe = [&](BudgetPlanInput& measured) { fix(measured, 1.0); };
    std::vector<int64_t> replanned_at;       // steps taken when the plan was made again
    std::vector<int64_t> steps_planned_then;  // config.json's steps just before
    options.on_budget_remeasure = [&](BudgetPlanInput& measured) {
        CHECK(measured.step_s > 0);  // the mean of the steps the loop timed
        // The second plan comes after an evaluation: its time is the run's own, not the probe's 0.001 s.
        if (!replanned_at.empty()) CHECK(measured.eval_image_s != 0.001);
        steps_planned_then.push_back(read_config_file(budgeted.file("config.json")).steps);
        fix(measured, replanned_at.empty() ? 0.5 : 1.0);
        replanned_at.push_back(-1);
    };
    options.after_step = [&](const StepInfo& info) {
        if (!replanned_at.empty() && replanned_at.back() < 0) replanned_at.back() = info.step + 1;
    };
    const TrainResult result = train(c, options);
    REQUIRE(result.status == TrainStatus::completed);
    CHECK(replanned_at == std::vector<int64_t>{50, 100});
    // 573: the probe's plan. 50 + 1,128: twice as fast, as in the remeasured_plan test above (done 45 there,
    // 50 here: the same 22 epochs and 28 steps fit after them). 100 + 572: the probe's speed again, less the
    // evaluation charged in advance (0.97 x 599.25 s fill 11 epochs of 50.75 s and 22 steps).
    CHECK(steps_planned_then == std::vector<int64_t>{573, 50 + 1128});
    const TrainConfig written = read_config_file(budgeted.file("config.json"));
    CHECK(written.steps == 100 + 572);
    CHECK(written.epochs == 14);  // ceil(672 / 50)
    CHECK(written.warmup_epochs == 2);
    CHECK(result.state.step == 672);

    TrainConfig again = written;
    again.time = 0;
    again.out = repeated.str();
    REQUIRE(train(again).status == TrainStatus::completed);
    check_same_tensors(budgeted.file("last.safetensors"), repeated.file("last.safetensors"));
}

TEST_CASE("train --time: a machine slower than the probe meets the deadline with a resumable checkpoint") {
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    c.time = 3;
    TrainOptions options;
    options.on_budget_probe = [](BudgetPlanInput& measured) { measured.step_s = 0.001; };  // a fast "probe"
    options.on_batch = [](int64_t, Batch&, ImageClassifier&) {  // and a slow machine
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    };
    const auto start = std::chrono::steady_clock::now();
    const TrainResult result = train(c, options);
    const double wall = seconds_since(start);
    REQUIRE(result.status == TrainStatus::out_of_time);
    CHECK(wall <= 3.2);
    CHECK(contains(result.message, "the time budget (3s) ran out in epoch"));
    const Checkpoint last = read_checkpoint(out.file("last.safetensors"));
    CHECK(contains(result.message, format_message("to take them, without the budget: patchgrad train --resume ",
                                                  out.file("last.safetensors"), " --steps ", last.config.steps)));
    CHECK(last.state.step == result.state.step);
    // It stopped at the deadline, not before: a step is not taken once fewer than 1 s (the reserve) plus
    // the last evaluation and a step are left, so the run used about 1.8 s of its 3 s. (How many steps
    // fit in them depends on the machine's load: the start-up is timed too.)
    CHECK(last.state.step >= 1);
    CHECK(wall >= 1.5);
    CHECK(last.config.steps > last.state.step);

    // The time kept for it evaluated the state where the run stopped: the message and metrics.csv give its
    // test accuracy, and without a split that state is best.safetensors, as a run's final state is.
    CHECK(contains(result.message, "that state was evaluated (test accuracy "));
    REQUIRE(!result.epochs.empty());
    const EpochMetrics& stopped = result.epochs.back();
    CHECK(stopped.step == last.state.step);
    CHECK(stopped.epoch == last.state.epoch + 1);  // the open epoch, its row written early
    REQUIRE(std::filesystem::exists(out.file("best.safetensors")));
    const Checkpoint best = read_checkpoint(out.file("best.safetensors"));
    CHECK(best.state.step == last.state.step);
    CHECK(best.state.best_test_acc == doctest::Approx(stopped.test_acc));

    // Resumed with the budget lifted (the message's command), the open epoch goes on where it stopped and
    // its early row is replaced by the whole epoch's.
    TrainConfig rest = last.config;
    rest.time = 0;
    TrainOptions resume;
    resume.resume = out.file("last.safetensors");
    const TrainResult finished = train(rest, resume);
    REQUIRE(finished.status == TrainStatus::completed);
    CHECK(finished.state.step == last.config.steps);
    std::ifstream metrics(out.file("metrics.csv"));
    int64_t lines = 0;
    for (std::string line; std::getline(metrics, line);) ++lines;
    CHECK(lines == 1 + last.config.epochs);  // the header, then one row per epoch
}

TEST_CASE("train --time: a real budget of a few seconds is kept on the wall clock") {
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    c.time = 4;
    const auto start = std::chrono::steady_clock::now();
    const TrainResult result = train(c);
    const double wall = seconds_since(start);
    CHECK(wall <= 4.3);
    REQUIRE((result.status == TrainStatus::completed || result.status == TrainStatus::out_of_time));
    const TrainConfig written = read_config_file(out.file("config.json"));
    CHECK(written.steps >= 1);
    if (result.status == TrainStatus::completed) CHECK(result.state.step == written.steps);
}

TEST_CASE("flags: --time, --steps and --val, and the conflicts between them") {
    CHECK(parse({"--time", "60m"}).time == 3600);
    CHECK(parse({"--time", "60m"}).steps == 0);
    CHECK(parse({"--steps", "500"}).steps == 500);
    CHECK(parse({"--val", "5000"}).val == 5000);
    CHECK(contains(usage_error({"--time", "60"}), "--time expects a duration"));
    CHECK(contains(usage_error({"--time", "1h", "--epochs", "3"}),
                   "--time sizes the run, --epochs and --steps fix its length: give one of them"));
    CHECK(contains(usage_error({"--time", "1h", "--steps", "3"}), "give one of them"));
    CHECK(contains(usage_error({"--epochs", "3", "--steps", "30"}), "--epochs and --steps both set"));
    CHECK(contains(usage_error({"--val", "-1"}), "--val expects a whole number"));
}

TEST_CASE("config: files from before steps, time and val read with their defaults") {
    Json json = to_json(default_config("vit", "cifar10"));
    Json::Object fields;
    for (const auto& [key, value] : json.as_object())
        if (key != "steps" && key != "time" && key != "val") fields.emplace_back(key, value);
    const TrainConfig old = from_json(Json(fields));
    CHECK(old.steps == 0);
    CHECK(old.time == 0);
    CHECK(old.val == 0);
}

TEST_CASE("progress: with a budget, the line shows the time left of it") {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    ProgressLine line(file, false);
    line.update(3, 29, 1, 391, 1.4321, 0.487, 312, 3100, 3132);
    std::rewind(file);
    char text[256] = {};
    CHECK(std::fgets(text, sizeof text, file) != nullptr);
    std::fclose(file);
    CHECK(std::string(text) == "epoch 3/29  batch 1/391  loss 1.4321  acc 48.7%  312 img/s  ETA 51m40s  budget left 52m12s\n");
}
