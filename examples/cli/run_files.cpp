#include "examples/cli/run_files.h"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "core/io/atomic_file.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"

namespace patchgrad::cli {

// ---- metrics.csv -------------------------------------------------------------------------------------

// val_loss and val_acc are empty without a validation split (--val 0); test_loss and test_acc are
// measured every epoch for the report, never to choose (docs/training.md, "A validation split").
const char* const kMetricsHeader =
    "epoch,step,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,images_per_s,seconds,peak_rss_mb";

namespace {

// "%.6f" of a number, or "" for NaN (a measurement not taken).
std::string field(double value) {
    if (std::isnan(value)) return "";
    char text[64];
    std::snprintf(text, sizeof text, "%.6f", value);
    return text;
}

}  // namespace

bool next_line(std::string_view text, size_t& pos, std::string_view& line) {
    if (pos >= text.size()) return false;
    const size_t end = std::min(text.find('\n', pos), text.size());
    line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    return true;
}

std::vector<std::string_view> split_fields(std::string_view line, size_t max_fields) {
    std::vector<std::string_view> fields;
    if (line.empty()) return fields;
    size_t start = 0;
    while (fields.size() < max_fields) {
        const size_t comma = line.find(',', start);
        fields.push_back(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return fields;
}

std::string metrics_row(const EpochMetrics& m) {
    char head[96], tail[128];
    std::snprintf(head, sizeof head, "%lld,%lld,%.6g", static_cast<long long>(m.epoch), static_cast<long long>(m.step),
                  m.lr);
    std::snprintf(tail, sizeof tail, "%.1f,%.1f,%.1f", m.images_per_s, m.seconds, m.peak_rss_mb);
    return std::string(head) + "," + field(m.train_loss) + "," + field(m.train_acc) + "," + field(m.val_loss) + "," +
           field(m.val_acc) + "," + field(m.test_loss) + "," + field(m.test_acc) + "," + tail;
}

std::vector<std::string> kept_metrics_rows(const std::string& path, int64_t epochs) {
    std::vector<std::string> rows;
    if (!std::filesystem::exists(path)) return rows;
    const std::string text = read_file(path, kMaxMetricsFileBytes);
    size_t pos = 0;
    std::string_view line;
    next_line(text, pos, line);
    const std::vector<std::string_view> theirs = split_fields(line, kMaxMetricsColumns),
                                        ours = split_fields(kMetricsHeader, kMaxMetricsColumns);
    const int64_t wanted = std::min(epochs, kMaxMetricsRows);
    while (static_cast<int64_t>(rows.size()) < wanted && next_line(text, pos, line)) {
        int64_t epoch = 0;
        std::from_chars(line.data(), line.data() + line.size(), epoch);  // the first field; 0 if not a number
        if (epoch < 1 || epoch > epochs) continue;
        const std::vector<std::string_view> values = split_fields(line, kMaxMetricsColumns);
        std::string row;
        row.reserve(line.size() + ours.size());  // the line's fields at most, reordered, and a comma each
        for (size_t k = 0; k < ours.size(); ++k) {  // each of today's columns, found by name in the file's
            std::string_view value;
            for (size_t j = 0; j < theirs.size() && j < values.size(); ++j)
                if (theirs[j] == ours[k]) value = values[j];
            if (k) row += ',';
            row += value;
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

// ---- the folder -----------------------------------------------------------------------------------------

std::string default_run_folder(const TrainConfig& config) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
    return "runs/" + config.dataset + "-" + config.model + "-" + stamp;
}

void refuse_another_run(const std::string& folder, const TrainConfig& config, bool force) {
    const std::string path = folder + "/config.json";
    if (force || !std::filesystem::exists(path)) return;
    std::string difference;
    try {
        const Json theirs = to_json(read_config_file(path)), ours = to_json(config);
        for (const auto& [key, value] : ours.as_object()) {
            const bool planned = key == "steps" || key == "epochs" || key == "warmup_epochs";
            if (key == "out" || key == "threads" || (planned && config.time > 0)) continue;
            if (difference.empty() && !(theirs.at(key) == value))
                difference = key + " is " + theirs.at(key).dump() + " there, " + value.dump() + " here";
        }
    } catch (const std::exception& error) {
        difference = std::string("its config.json cannot be read: ") + error.what();
    }
    if (!difference.empty())
        throw UsageError("patchgrad train: " + folder + " holds another run (" + printable(difference) +
                         "); choose another --out, or give --force to replace that run");
}

double peak_rss_mb() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024;  // Linux reports ru_maxrss in KB
}

}  // namespace patchgrad::cli
