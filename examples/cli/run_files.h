#pragma once
// The files of a run's folder, apart from the loop that writes them (train.cpp):
//
//   config.json        the TrainConfig (config.h); a folder belongs to the run it describes
//   metrics.csv        one row per epoch: kMetricsHeader, metrics_row (commands.h)
//   last.safetensors   the latest state, resumable          best.safetensors  the chosen state
//   metrics.svg        the curves, redrawn after every epoch (plot.cpp)
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "examples/cli/config.h"

namespace patchgrad::cli {

// runs/<dataset>-<model>-<YYYYmmdd-HHMMSS>, the local time now.
std::string default_run_folder(const TrainConfig& config);

// A run folder belongs to one run: starting afresh in a folder whose config.json describes another run
// (another value of any field but `out` and `threads`, which change no result; and, for a run sized by
// --time, the steps, epochs and warmup its plan fixes) would replace its config, metrics and checkpoints.
// Throws UsageError naming the first difference, unless `force`.
void refuse_another_run(const std::string& folder, const TrainConfig& config, bool force);

// metrics.csv's rows for epochs 1..`epochs` from an earlier session, in today's columns (kMetricsHeader):
// a resumed run keeps them and drops any later rows, which a resume from an older checkpoint writes
// again. Rows of an older file (without the validation columns, or without peak_rss_mb) are rewritten
// by column name, the missing fields left empty.
// At most min(epochs, kMaxMetricsRows) rows are kept: a run writes one per epoch.
std::vector<std::string> kept_metrics_rows(const std::string& path, int64_t epochs);

// metrics.csv's text taken apart in place, as views into it: a file costs its own size once, not once
// more per copy. next_line: the line at `pos` without its "\n" (or "\r\n"), `pos` moved past it; false
// at the end of the text. split_fields: a line's comma-separated fields, the first `max_fields` of them
// (a trailing comma makes an empty last field; an empty line has none).
bool next_line(std::string_view text, size_t& pos, std::string_view& line);
std::vector<std::string_view> split_fields(std::string_view line, size_t max_fields);

// The process's peak resident set size so far, in MB (getrusage).
double peak_rss_mb();

}  // namespace patchgrad::cli
