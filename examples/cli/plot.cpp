// patchgrad plot: a training run's metrics.csv drawn as an SVG of three panels over the epochs: the loss
// (train and test), the accuracy (train and test) and the learning rate.
//
//   patchgrad plot runs/default                        # writes runs/default/metrics.svg
//   patchgrad plot runs/default --out /tmp/curves.svg
//
// Training calls write_metrics_plot after every epoch (train.cpp), so a run's folder always holds a
// picture of the run so far. The CSV is the one train.cpp writes (header epoch,step,lr,train_loss,
// train_acc,test_loss,test_acc,images_per_s,seconds); the columns are found by name, so extra columns
// do no harm. A missing file, a header without a needed column, a field that is not a finite number, or
// no rows at all is an error naming the file and the line. docs/figures.md shows an example.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "core/io/atomic_file.h"
#include "core/check.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/run_files.h"
#include "examples/cli/svg.h"

namespace patchgrad::cli {

namespace {

// ---- reading metrics.csv -------------------------------------------------------------------------------

// The columns the picture needs, in the order of Metrics::values.
constexpr const char* kColumns[] = {"epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc"};
constexpr size_t kColumnCount = sizeof kColumns / sizeof kColumns[0];

// One list per column of kColumns, one entry per row (epoch).
struct Metrics {
    std::vector<double> values[kColumnCount];
    const std::vector<double>& column(const std::string& name) const {
        for (size_t k = 0; k < kColumnCount; ++k)
            if (name == kColumns[k]) return values[k];
        throw std::logic_error("plot: no column " + name);
    }
};

// A line or a field in a message: its first 120 bytes, so the message stays one short line.
std::string excerpt(std::string_view text) {
    return text.size() <= 120 ? std::string(text) : std::string(text.substr(0, 120)) + "...";
}

Metrics read_metrics(const std::string& path) {
    check_io(std::filesystem::exists(path), path,
             ": no such file (a run's folder holds metrics.csv once its first epoch has finished)");
    const std::string text = read_file(path, kMaxMetricsFileBytes);
    size_t pos = 0;
    std::string_view line;
    next_line(text, pos, line);
    const std::vector<std::string_view> header = split_fields(line, kMaxMetricsColumns + 1);
    check_io(header.size() <= kMaxMetricsColumns, path, ":1: the header has more than ", kMaxMetricsColumns,
             " columns (train writes 12)");
    size_t position[kColumnCount];  // where each needed column sits in a row
    for (size_t k = 0; k < kColumnCount; ++k) {
        size_t found = 0;
        while (found < header.size() && header[found] != kColumns[k]) ++found;
        check_io(found < header.size(), path, ":1: the header '", excerpt(line), "' has no column '", kColumns[k],
                 "' (expected epoch,step,lr,train_loss,train_acc,test_loss,test_acc,...)");
        position[k] = found;
    }
    Metrics metrics;
    for (int64_t number = 2; next_line(text, pos, line); ++number) {
        if (line.empty()) continue;
        check_io(static_cast<int64_t>(metrics.values[0].size()) < kMaxMetricsRows, path, ":", number,
                 ": more than ", kMaxMetricsRows, " rows, one per epoch of a run (--epochs is at most ", kMaxEpochs,
                 ")");
        const std::vector<std::string_view> fields = split_fields(line, header.size() + 1);
        const bool more = fields.size() > header.size();  // split_fields stopped counting one past the header
        check_io(fields.size() == header.size(), path, ":", number, ": ", more ? "more than " : "",
                 more ? header.size() : fields.size(), " fields, but the header has ", header.size());
        for (size_t k = 0; k < kColumnCount; ++k) {
            const std::string_view field = fields[position[k]];
            double value = 0;
            const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
            check_io(error == std::errc() && end == field.data() + field.size() && std::isfinite(value), path,
                     ":", number, ": ", kColumns[k], " is '", excerpt(field), "', not a finite number");
            check_io(k != 0 || (value >= 1 && value == std::floor(value)), path, ":", number,
                     ": epoch is '", excerpt(field), "', not a whole number from 1 up");
            metrics.values[k].push_back(value);
        }
    }
    check_io(!metrics.values[0].empty(), path, ": no rows after the header (no epoch has finished yet)");
    return metrics;
}

// ---- axes ----------------------------------------------------------------------------------------------

// An axis from `low` to `high` with `count` + 1 ticks every `step`, all round numbers (1, 2 or 5 times a
// power of 10). Any finite values make a finite axis of at most ticks + 2 steps: the values are clamped
// to +-1e300 (so no tick overflows to infinity), and the span is at least a billionth of their
// magnitude and 1e-300 (so equal values, or denormals, still get a step larger than zero, and adding
// it to the low end changes it).
struct Axis {
    double low, high, step;
    int count;
    double tick(int i) const { return low + i * step; }
};

Axis nice_axis(double low, double high, int ticks, double min_step = 0) {
    constexpr double kLargest = 1e300;
    low = std::clamp(low, -kLargest, kLargest);
    high = std::clamp(high, -kLargest, kLargest);
    const double magnitude_of_values = std::max(std::abs(low), std::abs(high));
    if (high <= low) high = low + std::max(1.0, magnitude_of_values * 1e-9);  // equal values: one unit
    const double span = std::max({high - low, magnitude_of_values * 1e-9, 1e-300});
    const double raw = span / ticks, magnitude = std::pow(10, std::floor(std::log10(raw)));
    const double fraction = raw / magnitude;
    double step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
    step = std::max(step, min_step);
    const double first = std::floor(low / step + 1e-9), last = std::max(first + 1, std::ceil(high / step - 1e-9));
    return {first * step, last * step, step, static_cast<int>(last - first)};
}

// A tick's label with as many decimals as the step needs: "0.25", "0.0004", "12"; steps beyond those
// (1e-300, 1e+37) in the shortest form that reads back: "5e-301", "1.1e+38".
std::string tick_label(double value, double step) {
    char text[64];
    std::to_chars_result result;
    if (step < 1e-9 || step >= 1e15) {
        result = std::to_chars(text, text + sizeof text, value);
    } else {
        const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
        result = std::to_chars(text, text + sizeof text, value, std::chars_format::fixed, decimals);
    }
    return result.ec == std::errc() ? std::string(text, result.ptr) : "?";
}

// ---- one panel -----------------------------------------------------------------------------------------

struct Series {
    std::string name, css_class, colour, dash;
    const std::vector<double>* values;
    double scale = 1;  // multiplies the values (accuracy: fractions -> percent)
};

struct Panel {
    double x, y, width, height;  // the plotting area, in pixels
    Axis epochs, values;
    std::string label;           // the y axis's name
};

void draw_panel(Svg& svg, const Panel& panel, const std::vector<double>& epochs, const std::vector<Series>& series) {
    // A value outside the axis (a negative loss, an accuracy above 1) is drawn on the panel's edge.
    const auto fraction = [](double v, const Axis& axis) {
        return std::clamp((v - axis.low) / (axis.high - axis.low), 0.0, 1.0);
    };
    const auto px = [&](double e) { return panel.x + fraction(e, panel.epochs) * panel.width; };
    const auto py = [&](double v) { return panel.y + panel.height - fraction(v, panel.values) * panel.height; };
    const Style grid{.stroke = "#dddddd", .stroke_width = 1};
    for (int i = 0; i <= panel.values.count; ++i) {
        const double v = panel.values.tick(i);
        svg.line(panel.x, py(v), panel.x + panel.width, py(v), grid);
        svg.text(panel.x - 6, py(v) + 4, tick_label(v, panel.values.step), {.size = 10, .anchor = "end"});
    }
    for (int i = 0; i <= panel.epochs.count; ++i) {
        const double e = panel.epochs.tick(i);
        svg.line(px(e), panel.y, px(e), panel.y + panel.height, grid);
        svg.text(px(e), panel.y + panel.height + 14, tick_label(e, panel.epochs.step),
                 {.size = 10, .anchor = "middle"});
    }
    svg.rect(panel.x, panel.y, panel.width, panel.height, {.fill = "none", .stroke = "#000000", .stroke_width = 1});
    svg.text(panel.x + panel.width / 2, panel.y + panel.height + 30, "epoch", {.size = 11, .anchor = "middle"});
    svg.text(panel.x - 56, panel.y + panel.height / 2, panel.label, {.size = 12, .anchor = "middle", .rotate = -90});
    for (size_t s = 0; s < series.size(); ++s) {
        const Series& one = series[s];
        std::vector<std::pair<double, double>> points;
        for (size_t k = 0; k < epochs.size(); ++k) points.push_back({px(epochs[k]), py((*one.values)[k] * one.scale)});
        const Style curve{
            .fill = "none", .stroke = one.colour, .stroke_width = 2, .dash = one.dash, .css_class = one.css_class};
        svg.polyline(points, curve);
        if (points.size() <= 60)
            for (const auto& [x, y] : points) svg.circle(x, y, 2.5, {.fill = one.colour});
        const double legend_y = panel.y + 12 + 20 * static_cast<double>(s);  // the legend, right of the panel
        svg.line(panel.x + panel.width + 14, legend_y - 4, panel.x + panel.width + 40, legend_y - 4,
                 {.stroke = one.colour, .stroke_width = 2, .dash = one.dash});
        svg.text(panel.x + panel.width + 46, legend_y, one.name, {.size = 11});
    }
}

// ---- the picture ---------------------------------------------------------------------------------------

std::string metrics_svg(const Metrics& metrics, const std::string& csv_path) {
    const std::vector<double>& epochs = metrics.column("epoch");
    double max_epoch = 0, max_loss = 0, max_lr = 0;
    for (size_t k = 0; k < epochs.size(); ++k) {
        max_epoch = std::max(max_epoch, epochs[k]);
        max_loss = std::max({max_loss, metrics.column("train_loss")[k], metrics.column("test_loss")[k]});
        max_lr = std::max(max_lr, metrics.column("lr")[k]);
    }
    const Axis epoch_axis = nice_axis(0, max_epoch, 10, 1);
    const double width = 720, left = 80, plot_width = 500, height = 700;
    Svg svg(width, height);
    svg.text(20, 30, "Training curves: " + csv_path + " (" + std::to_string(epochs.size()) + " epochs)",
             {.size = 16, .bold = true});
    const std::string train_colour = "#1f77b4", test_colour = "#d62728";
    draw_panel(svg, {left, 60, plot_width, 180, epoch_axis, nice_axis(0, max_loss, 5), "loss"}, epochs,
               {{"train loss", "train-loss", train_colour, "", &metrics.column("train_loss")},
                {"test loss", "test-loss", test_colour, "6 3", &metrics.column("test_loss")}});
    draw_panel(svg, {left, 300, plot_width, 180, epoch_axis, {0, 100, 20, 5}, "accuracy (%)"}, epochs,
               {{"train accuracy", "train-acc", train_colour, "", &metrics.column("train_acc"), 100},
                {"test accuracy", "test-acc", test_colour, "6 3", &metrics.column("test_acc"), 100}});
    const Axis lr_axis = nice_axis(0, max_lr > 0 ? max_lr : 1e-3, 3);
    draw_panel(svg, {left, 540, plot_width, 90, epoch_axis, lr_axis, "learning rate"}, epochs,
               {{"learning rate", "lr", "#2ca02c", "", &metrics.column("lr")}});
    svg.text(20, height - 16,
             "Train loss includes label smoothing and train accuracy is on augmented images; "
             "test: plain cross-entropy.",
             {.size = 11, .fill = "#333333"});
    return svg.str();
}

}  // namespace

void write_metrics_plot(const std::string& run_dir) {
    const std::string csv_path = run_dir + "/metrics.csv";
    write_file_atomically(run_dir + "/metrics.svg", metrics_svg(read_metrics(csv_path), csv_path));
}

int run_plot(int argc, char** argv) {
    std::vector<std::string> dirs;
    std::string out;
    ArgParser args("patchgrad plot", "Draws a training run's metrics.csv as an SVG: the train and test loss, the train "
                                     "and test accuracy\nand the learning rate over the epochs, in three panels. "
                                     "Training does this after every epoch.");
    args.positionals("RUN_DIR", &dirs, "a run's folder, holding metrics.csv", 1);
    args.option("--out", &out, "write the SVG to FILE (default RUN_DIR/metrics.svg)");
    if (!args.parse(argc, argv)) return 0;
    if (dirs.empty())
        throw UsageError("patchgrad plot: which run? give RUN_DIR, a folder holding metrics.csv (see --help)");
    const std::string csv_path = dirs[0] + "/metrics.csv";
    const Metrics metrics = read_metrics(csv_path);
    if (out.empty()) out = dirs[0] + "/metrics.svg";
    refuse_output_over_input("patchgrad plot", out, {csv_path});
    write_file_atomically(out, metrics_svg(metrics, csv_path));
    std::cout << "patchgrad plot: " << out << " (" << metrics.values[0].size() << " epochs)\n";
    return 0;
}

}  // namespace patchgrad::cli
