// The worst input of every file format patchgrad reads (docs/reliability.md, "Hostile files and folders"),
// made here at run time, written to a file and read by the program's own reader in a child process that
// measures what the reading cost. The rule: any input up to the format's cap is accepted or refused in
// under 1 s and under 64 MB beyond the program's normal footprint, and a refusal is a message naming the
// path, never a crash. The worst inputs are those a format's limits still allow: the most values, keys,
// dimensions, rows or names; the deepest nesting; the longest name or number; the largest sizes a header
// can announce; a file at the cap, and one byte past it.
//
// The normal footprint is what an accepted file yields and the program keeps: a CIFAR-10 batch is 30 MB
// of images and a 16-megapixel photo 48 MB of pixels whoever made the file. What matters is that a hostile
// file cost no more than a real one of its kind, so an accepted dataset or image may take 64 MB beyond the
// bytes it yields; everything else (a refusal, a header, a plotted metrics.csv, the largest checkpoint
// header patchgrad writes) must stay under 64 MB outright.
//
// The child measures its peak resident memory while reading (VmHWM, first reset to the resident set,
// Linux's /proc/self/clear_refs) minus its resident memory before (VmRSS), and its CPU time (user +
// system): the suite shares its cores with make -j and with training runs, which stretch the wall clock
// without the reader doing any more work, so the wall clock is held only to a hang's bound. Under
// AddressSanitizer (make sanitize) the resident set is shadow memory and a quarantine of freed blocks, not
// the reader's: only the time and the verdicts are checked there.
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/io/atomic_file.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "datasets/cifar10.h"
#include "datasets/image_file.h"
#include "datasets/mnist.h"
#include "examples/cli/checkpoint.h"
#include "examples/cli/commands.h"
#include "examples/cli/run_files.h"
#include "optim/ema.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::TempDir;

namespace {

constexpr int64_t kMB = int64_t{1} << 20;
constexpr int64_t kMemoryBound = 64 * kMB;  // beyond the normal footprint
// Seconds of CPU. Under AddressSanitizer (make sanitize) every load and store is checked and the same
// read costs 2 to 3 times as much: the most rows of metrics.csv took 0.45 s alone and 1.08 s late in the
// sanitized suite (the forked child copies more of a larger parent's memory), against 0.12 s in the real build.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kTimeBound = 3.0;
#else
constexpr double kTimeBound = 1.0;
#endif
// Under an emulator (make test-aarch64) the same work takes about ten times the CPU: the most rows of
// metrics.csv took 1.15 s under qemu-aarch64.
double time_bound() { return running_under_emulator() ? 10 * kTimeBound : kTimeBound; }
constexpr double kHangBound = 20.0;         // seconds of wall clock, however loaded the machine

// ---- reading a file in a child process, measured ----------------------------------------------------------

// A field of /proc/self/status in bytes ("VmRSS:     5120 kB").
int64_t status_bytes(const char* field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(field, 0) == 0) return std::atoll(line.c_str() + std::strlen(field)) * 1024;
    return -1;
}

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

// What one reading cost, as the child measured it; its exception's message follows it down the pipe.
struct Report {
    double cpu_seconds = 0;
    double wall_seconds = 0;
    int64_t growth = 0;     // the peak resident bytes while reading minus the resident bytes before
    bool accepted = false;  // the reader returned; else it threw a std::exception
};

struct Outcome {
    bool crashed = true;  // the child died or exited without a report
    std::string how;      // its exit status, when it crashed
    Report report;
    std::string message;
};

void write_all(int fd, const char* bytes, size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, bytes, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ::_exit(3);
        bytes += n;
        size -= static_cast<size_t>(n);
    }
}

// Runs `read` in a forked child, which reports through a pipe and exits; no doctest macro runs there.
Outcome read_in_child(const std::function<void()>& read) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(pipe_fds[0]);
#ifdef _OPENMP
        omp_set_num_threads(1);  // the parent's OpenMP threads did not come along
#endif
        malloc_trim(0);  // memory the parent freed but kept would be reused unseen: hand it back first
        // And the allocator's policy of a fresh program: glibc maps a large block on its own and unmaps it
        // when freed, until freeing one raises that threshold; the earlier tests of this process raised it,
        // so a growing vector's old blocks would stay resident beside the new ones (+20 MB on the most
        // keys' header, measured) where `patchgrad eval` would have handed them back.
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM := VmRSS
        Report report;
        std::string message;
        const int64_t before = status_bytes("VmRSS:");
        const double cpu_before = cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        try {
            read();
            report.accepted = true;
        } catch (const std::exception& error) {
            message = error.what();
        }
        report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        report.cpu_seconds = cpu_seconds() - cpu_before;
        report.growth = status_bytes("VmHWM:") - before;
        write_all(pipe_fds[1], reinterpret_cast<const char*>(&report), sizeof report);
        write_all(pipe_fds[1], message.data(), message.size());
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string received;
    char buffer[1 << 16];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        received.append(buffer, static_cast<size_t>(n));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    Outcome outcome;
    outcome.crashed = !WIFEXITED(status) || WEXITSTATUS(status) != 0 || received.size() < sizeof(Report);
    outcome.how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                      : "exit code " + std::to_string(WEXITSTATUS(status));
    if (received.size() >= sizeof(Report)) {
        std::memcpy(&outcome.report, received.data(), sizeof(Report));
        outcome.message = received.substr(sizeof(Report));
    }
    return outcome;
}

enum class Verdict { accepted, refused };

// One worst input: the file, the verdict it must get, and what the reader keeps when it accepts.
struct WorstCase {
    std::string what;          // "safetensors header at its cap: the most keys"
    std::string path;          // the file; a refusal's message must name it
    Verdict verdict;
    std::string refusal_says;  // and say this
    int64_t footprint;         // bytes an accepted input yields and the program keeps (a dataset's images)
    std::function<void()> read;
};

void check_worst_case(const WorstCase& c) {
    const Outcome outcome = read_in_child(c.read);
    REQUIRE_MESSAGE(!outcome.crashed, c.what, ": the reader crashed: ", outcome.how);
    const Report& r = outcome.report;
    char cost[128];
    std::snprintf(cost, sizeof cost, "%s in %.3f s of CPU (%.3f s on the clock), %+.1f MB",
                  r.accepted ? "accepted" : "refused", r.cpu_seconds, r.wall_seconds, static_cast<double>(r.growth) / kMB);
    MESSAGE(c.what, ": ", cost);
    INFO(c.what);
    const std::string excerpt = outcome.message.substr(0, 300);
    if (c.verdict == Verdict::accepted) {
        CHECK_MESSAGE(r.accepted, "refused: ", excerpt);
    } else {
        CHECK_MESSAGE(!r.accepted, "accepted");
        CHECK_MESSAGE(contains(outcome.message, c.path), excerpt);
        CHECK_MESSAGE(contains(outcome.message, c.refusal_says), excerpt);
    }
    CHECK(r.cpu_seconds < time_bound());
    CHECK(r.wall_seconds < kHangBound);
#if !defined(__SANITIZE_ADDRESS__)
    CHECK_MESSAGE(r.growth < c.footprint + kMemoryBound, "footprint ", c.footprint / kMB, " MB");
#endif
}

// ---- making the inputs ----------------------------------------------------------------------------------

void write_text(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// A safetensors file: the header's length (8 bytes, little-endian), the header padded with spaces to a
// multiple of 8, the data.
std::string safetensors_file(std::string header, const std::string& data = "") {
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string file;
    for (int i = 0; i < 8; ++i) file += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
    return file + header + data;
}

// `count` copies of `item` separated by commas.
std::string repeated(const std::string& item, int64_t count) {
    std::string text;
    text.reserve(static_cast<size_t>(count) * (item.size() + 1));
    for (int64_t i = 0; i < count; ++i) (text += item) += ',';
    if (!text.empty()) text.pop_back();
    return text;
}

// The header room left once a frame of `frame` bytes is around the part that fills it.
int64_t header_room(size_t frame) { return static_cast<int64_t>(kMaxHeaderBytes - frame) - 8; }

const std::string kEmptyTensor = R"({"dtype":"F32","shape":[0],"data_offsets":[0,0]})";  // 7 JSON values
const std::string kValues = "more than " + std::to_string(kMaxJsonValues) + " values";

}  // namespace

TEST_CASE("worst inputs: a safetensors header at its cap, of the most keys, values, dimensions and depth") {
    TempDir dir;
    const auto load = [](const std::string& path) { return [path] { (void)load_safetensors(path); }; };
    const auto make = [&](const std::string& name, const std::string& bytes) {
        write_text(dir.file(name), bytes);
        return dir.file(name);
    };
    // The most keys: {"1000000000000000":0,...} to the cap, parsed whole (199,728 values), then refused:
    // a tensor's entry is an object. Keys of 16 bytes cost the most: the longest a std::string keeps on
    // the heap in 32 bytes, and short enough for nearly kMaxJsonValues of them to fit in the cap.
    std::string keys = "{\"1000000000000000\":0";
    for (int64_t i = 1; static_cast<int64_t>(keys.size()) + 21 <= header_room(1); ++i)
        keys += ",\"" + std::to_string(1'000'000'000'000'000 + i) + "\":0";
    std::string path = make("keys.safetensors", safetensors_file(keys + "}"));
    check_worst_case({"safetensors header at its cap: the most keys", path, Verdict::refused, "expected an object", 0,
                      load(path)});
    // The most tensors the value limit lets through: 1 + 7 values each, all of them read as tensors.
    std::string tensors = "{";
    for (size_t i = 0; 1 + 7 * (i + 1) <= kMaxJsonValues; ++i)
        tensors += (i ? ",\"" : "\"") + std::to_string(i) + "\":" + kEmptyTensor;
    path = make("tensors.safetensors", safetensors_file(tensors + "}"));
    check_worst_case({"safetensors header: the most tensors", path, Verdict::accepted, "", 0, load(path)});
    // The longest shape: ones to the cap (refused), and as many as the value limit lets through (read).
    const std::string shape_open = R"({"t":{"dtype":"F32","shape":[)", shape_close = R"(],"data_offsets":[0,4]}})";
    const int64_t room = header_room(shape_open.size() + shape_close.size());
    path = make("shape.safetensors", safetensors_file(shape_open + repeated("1", room / 2) + shape_close, "abcd"));
    check_worst_case({"safetensors header at its cap: the longest shape", path, Verdict::refused, kValues, 0, load(path)});
    const auto dimensions = static_cast<int64_t>(kMaxJsonValues) - 7;  // the object, dtype, shape, offsets and 2
    path = make("dims.safetensors", safetensors_file(shape_open + repeated("1", dimensions) + shape_close, "abcd"));
    check_worst_case({"safetensors header: the most dimensions", path, Verdict::accepted, "", 0, load(path)});
    // The deepest nesting: a header of '[' (the parser recurses once a level: it stops at kMaxJsonDepth).
    path = make("deep.safetensors", safetensors_file("{\"t\":" + std::string(header_room(5), '[')));
    check_worst_case({"safetensors header at its cap: the deepest nesting", path, Verdict::refused,
                      "nested deeper than 64 levels", 0, load(path)});
    // The longest tensor name, read.
    const std::string name(static_cast<size_t>(header_room(kEmptyTensor.size() + 5)), 'n');
    path = make("name.safetensors", safetensors_file("{\"" + name + "\":" + kEmptyTensor + "}"));
    check_worst_case({"safetensors header at its cap: the longest name", path, Verdict::accepted, "", 0, load(path)});
    // A header one byte past the cap is refused before it is parsed.
    path = make("past.safetensors", safetensors_file(std::string(kMaxHeaderBytes + 1, ' ')));
    check_worst_case({"safetensors header past its cap", path, Verdict::refused, "exceeds the limit", 0, load(path)});
}

TEST_CASE("worst inputs: a safetensors file at its size cap with a broken header costs only its header") {
    // A file of kMaxSafetensorsBytes (4 GiB, sparse: it takes no disk) whose header fails: a reader that
    // took the whole file in before looking at the header would spend seconds and gigabytes on it.
    TempDir dir;
    const auto at_cap = [&](const std::string& name, const std::string& start) {
        const std::string path = dir.file(name);
        write_text(path, start);
        REQUIRE(::truncate(path.c_str(), static_cast<off_t>(kMaxSafetensorsBytes)) == 0);
        return path;
    };
    const auto load = [](const std::string& path) { return [path] { (void)load_safetensors(path); }; };
    std::string path = at_cap("not_json.safetensors", safetensors_file("{\"t\": not JSON"));
    check_worst_case({"safetensors at its size cap: a header that is not JSON", path, Verdict::refused,
                      "header", 0, load(path)});
    // A well-formed header whose one tensor covers 4 bytes of a data section of nearly 4 GiB.
    path = at_cap("trailing.safetensors",
                  safetensors_file(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})"));
    check_worst_case({"safetensors at its size cap: tensors that cover 4 bytes of the data", path, Verdict::refused,
                      "(trailing bytes)", 0, load(path)});
    // A header length larger than the header cap, in a file large enough to hold it.
    std::string length(8, '\0');
    length[3] = 1;  // 2^24 bytes: 16 MiB, four times kMaxHeaderBytes
    path = at_cap("long_header.safetensors", length);
    check_worst_case({"safetensors at its size cap: a header length past the header cap", path, Verdict::refused,
                      "exceeds the limit", 0, load(path)});
}

namespace {

// The checkpoint of `config`'s model as train saves it: AdamW's state and, when config.ema > 0, the EMA.
void save_model_checkpoint(const std::string& path, const TrainConfig& config) {
    Rng rng(5);
    const std::unique_ptr<ImageClassifier> model = build_model(config, rng);
    const std::unique_ptr<Optimizer> optimizer = build_optimizer(config, *model);
    std::unique_ptr<ExponentialMovingAverage> ema;
    if (config.ema > 0) ema = std::make_unique<ExponentialMovingAverage>(model->named_parameters(), config.ema);
    TrainingState state;
    state.data_rng = Rng(1).state();
    state.model_rng = Rng(2).state();
    const std::vector<std::string> names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    save_checkpoint(path, config, state, names, *model, optimizer.get(), ema.get());
}

// The checkpoint at `path` with the config in its metadata replaced by `config`.
void replace_config(const std::string& path, const TrainConfig& config) {
    SafetensorsFile file = load_safetensors(path);
    for (auto& [key, value] : file.metadata)
        if (key == "config") value = to_json(config).dump();
    save_safetensors(path, file.tensors, file.metadata);
}

}  // namespace

TEST_CASE("worst inputs: a checkpoint of the largest config the bounds allow, and the largest header written") {
    TempDir dir;
    const auto read = [](const std::string& path) {
        return [path] { (void)model_from_checkpoint(read_checkpoint(path)); };
    };
    TrainConfig tiny = default_config("vit", "cifar10");
    tiny.patch = 8, tiny.dim = 8, tiny.depth = 1, tiny.heads = 1, tiny.mlp_dim = 8;
    // A tiny ViT's file claiming the largest ViT and the largest Swin the config's bounds allow: both valid
    // configs, refused by the count of numbers the file holds, before anything is built.
    TrainConfig vit = tiny;
    vit.patch = 1, vit.dim = 65536, vit.depth = kMaxBlocks, vit.heads = 4096, vit.mlp_dim = 1 << 20;
    vit.stem = "patch";  // patches of one pixel: no stem of stride-2 convolutions makes them
    TrainConfig swin = default_config("swin", "cifar10");
    swin.patch = 1, swin.embed_dim = 65536, swin.window = 32, swin.mlp_ratio = 64;
    swin.depths = {64, 64, 64, 64}, swin.swin_heads = {4096, 4096, 4096, 4096};
    swin.stem = "patch";  // as for the ViT
    for (const TrainConfig& largest : {vit, swin}) {
        REQUIRE_NOTHROW(validate(largest));
        const std::string path = dir.file(largest.model + ".safetensors");
        save_model_checkpoint(path, tiny);
        replace_config(path, largest);
        check_worst_case({"checkpoint claiming the largest " + largest.model + " the bounds allow", path,
                          Verdict::refused, "metadata field 'config' describes a model of", 0, read(path)});
    }
    // The largest header patchgrad writes (kMaxBlocks, examples/cli/config.h): a Swin of kMaxBlocks blocks
    // of one-pixel patches over 6 stages, with AdamW's state and an EMA: read, and its model built.
    TrainConfig deepest = default_config("swin", "cifar10");
    deepest.patch = 1, deepest.embed_dim = 1, deepest.window = 1, deepest.mlp_ratio = 1, deepest.ema = 0.999;
    deepest.stem = "patch";
    deepest.depths.assign(6, kMaxBlocks / 6);
    deepest.depths[0] += kMaxBlocks % 6;
    deepest.swin_heads.assign(6, 1);
    REQUIRE_NOTHROW(validate(deepest));
    const std::string path = dir.file("deepest.safetensors");
    save_model_checkpoint(path, deepest);
    uint64_t header_bytes = 0;
    const std::string bytes = read_file(path, kMaxSafetensorsBytes);
    for (int i = 0; i < 8; ++i) header_bytes |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
    MESSAGE("the largest header patchgrad writes: ", header_bytes, " bytes, of a ", bytes.size(), "-byte file");
    CHECK(header_bytes <= kMaxHeaderBytes / 2);  // the cap's margin
    check_worst_case({"checkpoint: the largest header patchgrad writes", path, Verdict::accepted, "", 0, read(path)});
}

TEST_CASE("worst inputs: config.json at its cap") {
    TempDir dir;
    const auto read = [](const std::string& path) { return [path] { (void)read_config_file(path); }; };
    const std::string values = "[" + repeated("0", (static_cast<int64_t>(kMaxConfigFileBytes) - 2) / 2) + "]";
    REQUIRE(values.size() <= kMaxConfigFileBytes);
    const std::string path = dir.file("config.json"), past = dir.file("past.json");
    write_text(path, values);
    check_worst_case({"config.json at its cap: the most values", path, Verdict::refused, "expected a JSON object", 0,
                      read(path)});
    write_text(past, std::string(kMaxConfigFileBytes + 1, ' '));
    check_worst_case({"config.json past its cap", past, Verdict::refused, "more than the 65536 allowed", 0, read(past)});
}

TEST_CASE("worst inputs: metrics.csv at its cap, of the longest number and the most rows") {
    // Through write_metrics_plot (what train does after every epoch and `patchgrad plot` does: read, then
    // draw) and kept_metrics_rows (what a resumed run keeps).
    TempDir longest_dir, rows_dir, cap_dir;
    const auto plot = [](const std::string& dir) { return [dir] { write_metrics_plot(dir); }; };
    const auto keep = [](const std::string& path) {
        return [path] { (void)kept_metrics_rows(path, kMaxEpochs); };
    };
    // The longest number: a learning rate of 0.111... filling the file.
    const std::string header = std::string(kMetricsHeader) + "\n", row_tail = ",1,1,,,1,1,1,1,1\n";
    const std::string longest = header + "1,1,0." +
                                std::string(kMaxMetricsFileBytes - header.size() - row_tail.size() - 6, '1') + row_tail;
    REQUIRE(longest.size() == kMaxMetricsFileBytes);
    write_text(longest_dir.file("metrics.csv"), longest);
    check_worst_case({"metrics.csv at its cap: the longest number", longest_dir.file("metrics.csv"), Verdict::accepted,
                      "", 0, plot(longest_dir.str())});
    check_worst_case({"metrics.csv at its cap, kept on resume: the longest number", longest_dir.file("metrics.csv"),
                      Verdict::accepted, "", 0, keep(longest_dir.file("metrics.csv"))});
    // The most rows a run writes (one per epoch), drawn.
    std::string rows = header;
    for (int64_t epoch = 1; epoch <= kMaxMetricsRows; ++epoch)
        rows += std::to_string(epoch) + "," + std::to_string(epoch * 390) + ",0.000123,1.234567,0.567890,,,1.123456,"
                "0.612300,2345.6,1234.5,456.7\n";
    write_text(rows_dir.file("metrics.csv"), rows);
    check_worst_case({"metrics.csv: the most rows", rows_dir.file("metrics.csv"), Verdict::accepted, "", 0,
                      plot(rows_dir.str())});
    // The most rows the cap holds: refused by plot after kMaxMetricsRows; a resume keeps the first ones.
    std::string most = "epoch,lr,train_loss,train_acc,test_loss,test_acc\n";
    const std::string tiny_row = "1,1,1,1,1,1\n";
    most.reserve(kMaxMetricsFileBytes);
    while (most.size() + tiny_row.size() <= kMaxMetricsFileBytes) most += tiny_row;
    write_text(cap_dir.file("metrics.csv"), most);
    check_worst_case({"metrics.csv at its cap: the most rows", cap_dir.file("metrics.csv"), Verdict::refused,
                      "more than 100000 rows", 0, plot(cap_dir.str())});
    check_worst_case({"metrics.csv at its cap, kept on resume: the most rows", cap_dir.file("metrics.csv"),
                      Verdict::accepted, "", 0, keep(cap_dir.file("metrics.csv"))});
}

TEST_CASE("worst inputs: CIFAR-10's batches.meta.txt and batch files at their caps") {
    // Through load_cifar10 on the test set: test_batch.bin, then batches.meta.txt.
    TempDir dir;
    const auto load = [&] { return [folder = dir.str()] { (void)load_cifar10(folder, false); }; };
    const auto records = [](int64_t count) {
        std::string bytes(static_cast<size_t>(count) * 3073, '\x80');
        for (int64_t r = 0; r < count; ++r) bytes[static_cast<size_t>(r * 3073)] = static_cast<char>(r % 10);
        return bytes;
    };
    const std::string batch = dir.file("test_batch.bin"), meta = dir.file("batches.meta.txt");
    write_text(batch, records(1));
    std::string names;  // the most names: "a\n" to the cap, refused at the eleventh
    while (names.size() + 2 <= kMaxCifar10MetaBytes) names += "a\n";
    write_text(meta, names);
    check_worst_case({"batches.meta.txt at its cap: the most names", meta, Verdict::refused,
                      "more than 10 class names", 0, load()});
    names.clear();  // the longest names: ten of them fill the cap
    for (char name = 'a'; name < 'a' + 10; ++name) names += std::string(kMaxCifar10MetaBytes / 10 - 1, name) + "\n";
    write_text(meta, names);
    check_worst_case({"batches.meta.txt at its cap: the longest names", meta, Verdict::accepted, "",
                      static_cast<int64_t>(names.size()) + 3073, load()});
    std::filesystem::remove(meta);
    // A batch at the cap, as every real batch: 10000 images, 30 MB that the program keeps. One record more
    // is refused before it is read.
    write_text(batch, records(10000));
    check_worst_case({"CIFAR-10 batch at its cap", batch, Verdict::accepted, "", 10000 * 3073, load()});
    write_text(batch, records(10001));
    check_worst_case({"CIFAR-10 batch past its cap", batch, Verdict::refused, "more than the 30730000 allowed", 0,
                      load()});
}

TEST_CASE("worst inputs: IDX headers announcing the most, and a file at the cap") {
    TempDir dir;
    const auto images = [](const std::string& path) { return [path] { (void)read_idx_images(path, "mnist"); }; };
    const std::string path = dir.file("train-images-idx3-ubyte"), labels = dir.file("train-labels-idx1-ubyte");
    testing::write_bytes(path, testing::idx_images(0x7fffffff, 65535, 65535, {}));
    check_worst_case({"IDX images announcing the most", path, Verdict::refused, "truncated", 0, images(path)});
    testing::write_bytes(labels, testing::idx_labels(0x7fffffff, {}));
    check_worst_case({"IDX labels announcing the most", labels, Verdict::refused, "truncated", 0,
                      [labels] { (void)read_idx_labels(labels, "mnist", 10); }});
    const auto count = static_cast<uint32_t>((kMaxIdxFileBytes - 16) / (28 * 28));
    testing::write_bytes(path, testing::idx_images(count, 28, 28, std::vector<uint8_t>(count * 28 * 28, 7)));
    check_worst_case({"IDX images at the cap", path, Verdict::accepted, "", int64_t{count} * 28 * 28, images(path)});
    testing::write_bytes(path, std::vector<uint8_t>(kMaxIdxFileBytes + 1, 0));
    check_worst_case({"IDX file past the cap", path, Verdict::refused, "allowed", 0, images(path)});
}

TEST_CASE("worst inputs: PGM and PPM headers announcing the largest image, and images at the cap") {
    TempDir dir;
    const auto read = [](const std::string& path) { return [path] { (void)read_pnm(path); }; };
    const std::string path = dir.file("image.pnm");
    write_text(path, "P5\n65535 65535\n65535\n");
    check_worst_case({"PGM announcing the largest image", path, Verdict::refused, "samples, more than", 0, read(path)});
    write_text(path, "P6\n16384 5461\n255\n");  // 268,419,072 samples: within kMaxImageSamples, and no pixels
    check_worst_case({"PPM announcing the most samples", path, Verdict::refused, "truncated", 0, read(path)});
    // A grey image of one byte a sample, and a colour one of two bytes a sample, filling the cap.
    for (const bool colour : {false, true}) {
        const std::string head = colour ? "P6\n4096 " : "P5\n4096 ", maxval = colour ? " 65535\n" : " 255\n";
        const int64_t row_bytes = colour ? 4096 * 3 * 2 : 4096;
        const int64_t rows = (static_cast<int64_t>(kMaxImageFileBytes) - 32) / row_bytes;
        std::string bytes = head + std::to_string(rows) + maxval;
        bytes.append(static_cast<size_t>(rows * row_bytes), '\x11');
        write_text(path, bytes);
        const int64_t pixels = rows * 4096 * (colour ? 3 : 1);
        check_worst_case({colour ? "16-bit PPM at the cap" : "PGM at the cap", path, Verdict::accepted, "", pixels,
                          read(path)});
    }
}
