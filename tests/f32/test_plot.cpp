// `patchgrad plot` and write_metrics_plot (examples/cli/plot.cpp): a metrics.csv becomes a well-formed
// SVG with one point per epoch on each curve, placed where the axes say; a bad CSV is refused naming the
// file and the line; and training leaves a metrics.svg in the run's folder after every epoch, carrying
// on (with one warning) when it cannot write it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"
#include "tests/xml_check.h"

using namespace patchgrad;
using namespace patchgrad::cli;
namespace fs = std::filesystem;
using testing::TempDir, testing::write_bytes, testing::xml_error, testing::attribute_values;

namespace {

constexpr const char* kHeader = "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,images_per_s,seconds\n";

void write_text(const std::string& path, const std::string& text) {
    write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// The points ("x,y" each) of the polyline of class `css_class`; empty when there is none.
std::vector<std::string> curve_points(const std::string& svg, const std::string& css_class) {
    const std::vector<std::string> classes = attribute_values(svg, "polyline", "class");
    const std::vector<std::string> points = attribute_values(svg, "polyline", "points");
    REQUIRE(classes.size() == points.size());  // every curve is named
    for (size_t k = 0; k < classes.size(); ++k) {
        if (classes[k] != css_class) continue;
        std::istringstream pairs(points[k]);
        std::vector<std::string> result;
        for (std::string point; pairs >> point;) result.push_back(point);
        return result;
    }
    return {};
}

// Runs `patchgrad plot WORDS...` in-process, swallowing what it prints.
void plot(std::vector<std::string> words) {
    words.insert(words.begin(), {"patchgrad", "plot"});
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    std::ostringstream captured;
    std::streambuf* previous = std::cout.rdbuf(captured.rdbuf());
    try {
        run_plot(static_cast<int>(argv.size()), argv.data());
    } catch (...) {
        std::cout.rdbuf(previous);
        throw;
    }
    std::cout.rdbuf(previous);
}

// A CIFAR-10 folder of 5 training batches of 40 images and a test batch of 40: noise whose brightness
// tells the class, enough for a one-epoch run.
void write_small_cifar(const std::string& root) {
    Rng rng(3);
    fs::create_directories(root + "/cifar-10-batches-bin");
    for (const std::string name : {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                                   "test_batch"}) {
        std::vector<uint8_t> bytes;
        for (int i = 0; i < 40; ++i) {
            const int label = static_cast<int>(rng.randint(10));
            bytes.push_back(static_cast<uint8_t>(label));
            for (int p = 0; p < 3 * 32 * 32; ++p) bytes.push_back(static_cast<uint8_t>(20 * label + rng.randint(60)));
        }
        write_bytes(root + "/cifar-10-batches-bin/" + name + ".bin", bytes);
    }
}

// A ViT of about 24k parameters (patch 8: a 4 x 4 grid), as in tests/f32/test_training.cpp.
TrainConfig tiny_config(const std::string& data, const std::string& out, int64_t epochs) {
    TrainConfig c = default_config("vit", "cifar10");
    c.data = data;
    c.out = out;
    c.patch = 8;
    c.dim = 32;
    c.depth = 2;
    c.heads = 2;
    c.mlp_dim = 64;
    c.mlp_ratio = 2;
    c.batch_size = 50;
    c.epochs = epochs;
    c.warmup_epochs = 0;
    c.threads = 1;
    c.eval_batch_size = 40;
    return c;
}

// What `action` writes to the process's stderr (file descriptor 2, where fprintf(stderr) goes).
std::string captured_stderr(const std::function<void()>& action, const std::string& scratch) {
    std::fflush(stderr);
    const int saved = dup(2);
    const int file = open(scratch.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE((saved >= 0 && file >= 0));
    dup2(file, 2);
    close(file);
    try {
        action();
    } catch (...) {
        std::fflush(stderr);
        dup2(saved, 2);
        close(saved);
        throw;
    }
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return read_text(scratch);
}

size_t occurrences(const std::string& text, const std::string& part) {
    size_t count = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
    return count;
}

}  // namespace

TEST_CASE("plot: a metrics.csv of 3 epochs gives a well-formed SVG with 3 points per curve, where the axes say") {
    TempDir run;
    write_text(run.file("metrics.csv"), std::string(kHeader) +
                                            "1,10,0.001,2.1,0.25,1.9,0.5,1000.0,3.0\n"
                                            "2,20,0.0005,1.6,0.45,1.5,0.55,1000.0,6.0\n"
                                            "3,30,1e-05,1.2,0.6,1.4,0.6,1000.0,9.0\n");
    write_metrics_plot(run.str());
    const std::string svg = read_text(run.file("metrics.svg"));
    CHECK(xml_error(svg) == "");
    for (const std::string curve : {"train-loss", "test-loss", "train-acc", "test-acc", "lr"}) {
        CAPTURE(curve);
        CHECK(curve_points(svg, curve).size() == 3);
    }
    // The accuracy panel spans y 300..480 for 0..100 %, the epochs x 80..580 for 0..3:
    //   epoch 1 -> 80 + 500/3 = 246.67;  test_acc 0.5 -> 480 - 0.5 * 180 = 390;  train_acc 0.6 -> 372
    CHECK(curve_points(svg, "test-acc")[0] == "246.67,390");
    CHECK(curve_points(svg, "train-acc")[2] == "580,372");
    // The loss panel, y 60..240: max loss 2.1 -> an axis 0..2.5 in steps of 0.5; train_loss 2.1 at epoch 1
    //   -> 240 - 2.1 / 2.5 * 180 = 88.8
    CHECK(curve_points(svg, "train-loss")[0] == "246.67,88.8");
    for (const std::string label : {">epoch</text>", ">loss</text>", ">accuracy (%)</text>", ">learning rate</text>",
                                    ">train loss</text>", ">test accuracy</text>", ">2.5</text>", ">0.0010</text>"})
        CHECK_MESSAGE(contains(svg, label), "no ", label);
    CHECK(contains(svg, "(3 epochs)"));

    // The command writes the same picture, to --out when given.
    plot({run.str(), "--out", run.file("copy.svg")});
    CHECK(read_text(run.file("copy.svg")) == svg);
    CHECK_THROWS_AS(plot({}), UsageError);
}

TEST_CASE("plot: a bad metrics.csv is refused naming the file and the line") {
    TempDir run;
    const std::string csv = run.file("metrics.csv");
    const auto error_for = [&](const std::string& text) {
        write_text(csv, text);
        return thrown_message([&] { write_metrics_plot(run.str()); });
    };
    const std::string missing = thrown_message([&] { write_metrics_plot(run.str()); });
    CHECK(contains(missing, csv + ": no such file"));
    CHECK(contains(error_for("epoch,step,lr,train_loss\n1,10,0.1,2\n"),
                   csv + ":1: the header 'epoch,step,lr,train_loss' has no column 'train_acc'"));
    CHECK(contains(error_for(std::string(kHeader) + "1,10,0.001,2.1,0.25,1.9,0.5,1000.0,3.0\n"
                                                    "2,20,0.001,2.0,0.3,abc,0.5,1000.0,6.0\n"),
                   csv + ":3: test_loss is 'abc', not a finite number"));
    CHECK(contains(error_for(std::string(kHeader) + "1,10,0.001,2.1,0.25,1.9,0.5\n"),
                   csv + ":2: 7 fields, but the header has 9"));
    CHECK(contains(error_for(std::string(kHeader) + "1.5,10,0.001,2.1,0.25,1.9,0.5,1000.0,3.0\n"),
                   csv + ":2: epoch is '1.5', not a whole number from 1 up"));
    CHECK(contains(error_for(std::string(kHeader) + "1,10,0.001,nan,0.25,1.9,0.5,1000.0,3.0\n"),
                   csv + ":2: train_loss is 'nan', not a finite number"));
    CHECK(contains(error_for(kHeader), csv + ": no rows after the header"));
    CHECK_THROWS_AS(write_metrics_plot(run.str()), std::runtime_error);
    CHECK(!fs::exists(run.file("metrics.svg")));  // nothing half-written
    fs::remove(csv);
    REQUIRE(::mkfifo(csv.c_str(), 0600) == 0);  // a FIFO is refused at once, not waited on
    CHECK(contains(thrown_message([&] { write_metrics_plot(run.str()); }),
                   "cannot read " + csv + ": expected a regular file, found a FIFO (named pipe)"));
}

TEST_CASE("plot: training leaves metrics.svg in the run's folder, and goes on with one warning when it cannot") {
    TempDir data, runs;
    write_small_cifar(data.str());
    const std::string out = runs.str() + "/run";
    const TrainResult result = train(tiny_config(data.str(), out, 1));
    REQUIRE(result.status == TrainStatus::completed);
    const std::string svg = read_text(out + "/metrics.svg");
    CHECK(xml_error(svg) == "");
    CHECK(curve_points(svg, "test-acc").size() == 1);

    // metrics.svg a folder: it cannot be written, training still runs both epochs and warns once.
    const std::string blocked = runs.str() + "/blocked";
    fs::create_directories(blocked + "/metrics.svg");
    TrainResult two_epochs;
    const std::string warnings =
        captured_stderr([&] { two_epochs = train(tiny_config(data.str(), blocked, 2)); }, runs.str() + "/stderr.txt");
    CHECK(two_epochs.status == TrainStatus::completed);
    CHECK(two_epochs.epochs.size() == 2);
    CHECK(occurrences(warnings, "warning: metrics.svg not written") == 1);
}

TEST_CASE("plot: any finite values, however large, small or equal, give a bounded number of ticks") {
    // A loss of 1e38 once made the loss axis's last tick overflow to infinity, and the tick loop never
    // ended (train draws the plot after every epoch, from rows that --resume carries over).
    TempDir run;
    const std::vector<std::string> values = {"1e38", "-1e38", "1.7976931348623157e308", "-1.7976931348623157e308",
                                             "5e-324", "-5e-324", "2.2250738585072014e-308", "0", "3"};
    for (const std::string& value : values) {
        for (const std::string& epoch : {std::string("1"), value}) {  // an epoch must be whole and >= 1
            CAPTURE(value);
            CAPTURE(epoch);
            const bool whole_epoch = epoch == "1" || (epoch.find('-') == std::string::npos && epoch != "0" &&
                                                      epoch.find("e-") == std::string::npos);
            // Every value column holds `value`; two equal rows, then one with another value.
            std::string csv = kHeader;
            for (const std::string& row_epoch : {epoch, epoch}) {
                csv += row_epoch + ",1," + value + "," + value + "," + value + "," + value + "," + value + ",1,1\n";
            }
            write_text(run.file("metrics.csv"), csv);
            const auto start = std::chrono::steady_clock::now();
            if (!whole_epoch) {
                CHECK_THROWS_AS(write_metrics_plot(run.str()), std::runtime_error);
                continue;
            }
            write_metrics_plot(run.str());
            CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 1.0);
            const std::string svg = read_text(run.file("metrics.svg"));
            CHECK(xml_error(svg) == "");
            CHECK(attribute_values(svg, "text", "x").size() < 80);  // 3 panels of at most 12 + 12 ticks
            CHECK_FALSE(contains(svg, "inf"));
            CHECK_FALSE(contains(svg, "nan"));
        }
    }
}
