// The fuzzers' seeds: small valid files written by the library's own writers, plus, when DATA_DIR holds
// the real datasets (`make data`), the first bytes of the real files. `make fuzz` runs it.
//
//   make_seeds OUT_DIR [DATA_DIR]     writes OUT_DIR/<fuzzer>/<seed>, one folder per fuzzer
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "core/io/atomic_file.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "core/random.h"
#include "datasets/cifar10.h"
#include "datasets/image_file.h"
#include "examples/cli/checkpoint.h"
#include "examples/cli/commands.h"
#include "examples/cli/config.h"

namespace {

using namespace patchgrad;

std::string g_out;

void write_seed(const std::string& fuzzer, const std::string& name, const std::string& bytes) {
    const std::filesystem::path dir = std::filesystem::path(g_out) / fuzzer;
    std::filesystem::create_directories(dir);
    std::ofstream file(dir / name, std::ios::binary);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file) throw std::runtime_error("make_seeds: cannot write " + (dir / name).string());
}

// The first `count` bytes of a file, or "" when it is not there.
std::string head_of(const std::string& path, size_t count) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return "";
    std::string bytes(count, '\0');
    file.read(bytes.data(), static_cast<std::streamsize>(count));
    bytes.resize(static_cast<size_t>(file.gcount()));
    return bytes;
}

void append_u32_be(std::string& bytes, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(value >> shift));
}

// A real file's first bytes with its count (the big-endian u32 at byte 4) set to `count`, so that the
// truncated file is whole: `header_bytes` of header, then `count` records of `record_bytes`.
std::string truncated_idx(const std::string& path, uint32_t count, size_t header_bytes, size_t record_bytes) {
    std::string bytes = head_of(path, header_bytes + count * record_bytes);
    if (bytes.size() != header_bytes + count * record_bytes) return "";
    std::string patched = bytes.substr(0, 4);
    append_u32_be(patched, count);
    return patched + bytes.substr(8);
}

// A safetensors file's bytes with the checksum entry of its metadata blanked out with spaces (the header
// keeps its length and stays valid JSON), so that a fuzzer's change to the data section is not refused by
// the checksum before it reaches the checks behind it.
std::string without_checksum(std::string bytes) {
    const std::string entry = std::string(",\"") + kChecksumKey + "\":\"crc32:";
    const size_t at = bytes.find(entry);
    if (at == std::string::npos) throw std::runtime_error("make_seeds: no checksum entry to remove");
    bytes.replace(at, entry.size() + 9, entry.size() + 9, ' ');  // then 8 hex digits and the closing quote
    const SafetensorsFile file = decode_safetensors(bytes, "make_seeds");
    if (file.find_metadata(kChecksumKey) != nullptr)
        throw std::runtime_error("make_seeds: the checksum entry is still there");
    return bytes;
}

// The bytes save_checkpoint writes for `config`'s model (random weights), with AdamW's state or without.
std::string checkpoint_bytes(const cli::TrainConfig& config, bool with_optimizer) {
    cli::validate(config);
    Rng rng(0);
    const auto model = cli::build_model(config, rng);
    const auto optimizer = cli::build_optimizer(config, *model);
    cli::TrainingState state;
    state.data_rng = Rng(1).state();
    state.model_rng = Rng(2).state();
    const std::string scratch = g_out + "/checkpoint.safetensors";
    cli::save_checkpoint(scratch, config, state, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, *model,
                         with_optimizer ? optimizer.get() : nullptr);
    std::string bytes = read_file(scratch, kMaxSafetensorsBytes);
    std::filesystem::remove(scratch);
    return bytes;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::cerr << "usage: make_seeds OUT_DIR [DATA_DIR]\n";
        return 2;
    }
    g_out = argv[1];
    const std::string data = argc == 3 ? argv[2] : "data";
    try {
        // ---- safetensors: a small file, and a whole checkpoint of a tiny model as `train` writes it ----
        write_seed("safetensors", "two_tensors.safetensors",
                   encode_safetensors({{"a", Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3})},
                                       {"b", Tensor::from_vector({-1.5}, {1})}},
                                      {{"epoch", "3"}}));
        write_seed("safetensors", "empty.safetensors", encode_safetensors({}));
        cli::TrainConfig vit = cli::default_config("vit", "mnist");  // patch 7: a 4 x 4 grid; 1,500 parameters
        vit.dim = 8, vit.depth = 1, vit.heads = 1, vit.mlp_dim = 8, vit.patch = 7;
        const std::string vit_checkpoint = checkpoint_bytes(vit, true);
        write_seed("safetensors", "checkpoint.safetensors", vit_checkpoint);

        // ---- checkpoint: the tiny ViT with its AdamW state as `train` saves it, the same without its
        // checksum, and a tiny Swin (two stages: shifted windows and a patch merging), weights only ----
        write_seed("checkpoint", "vit.safetensors", vit_checkpoint);
        write_seed("checkpoint", "vit-no-checksum.safetensors", without_checksum(vit_checkpoint));
        cli::TrainConfig swin = cli::default_config("swin", "mnist");  // grids 4 x 4, then 2 x 2; 1,300 parameters
        swin.patch = 7, swin.embed_dim = 4, swin.depths = {1, 1}, swin.swin_heads = {1, 2}, swin.window = 2;
        write_seed("checkpoint", "swin.safetensors", checkpoint_bytes(swin, false));

        // ---- JSON and config.json: the configs `train` writes, and a document of every kind of value ----
        for (const char* model_name : {"vit", "swin"})
            for (const char* dataset : {"cifar10", "mnist"}) {
                const std::string text = cli::to_json(cli::default_config(model_name, dataset)).dump(2) + "\n";
                const std::string name = std::string(model_name) + "-" + dataset + ".json";
                write_seed("config_json", name, text);
                write_seed("json", name, text);
            }
        write_seed("json", "values.json",
                   Json(Json::Object{{"null", nullptr}, {"true", true}, {"number", -1.25e-3}, {"int", 9007199254740992.0},
                                {"text", "\"caf\xc3\xa9\"\t\\\x01 \xf0\x9f\x98\x80"},
                                {"array", Json::Array{1, Json::Array{}, Json::object()}}})
                       .dump());

        // ---- IDX: an image file of 2 images of 3 x 2 and a label file; the real files' first bytes ----
        std::string images = std::string("\0\0\x08\x03", 4), labels = std::string("\0\0\x08\x01", 4);
        append_u32_be(images, 2), append_u32_be(images, 3), append_u32_be(images, 2);
        images += std::string("\x00\x10\x80\xff\x01\x02" "\x03\x04\x05\x06\x07\x08", 12);
        append_u32_be(labels, 2);
        labels += std::string("\x07\x00", 2);
        write_seed("idx", "images.idx3", images);
        write_seed("idx", "labels.idx1", labels);
        for (const char* which : {"mnist", "fashion-mnist"}) {
            const std::string dir = data + "/" + which + "/";
            const std::string real_images = truncated_idx(dir + "t10k-images-idx3-ubyte", 3, 16, 28 * 28);
            const std::string real_labels = truncated_idx(dir + "t10k-labels-idx1-ubyte", 3, 8, 1);
            if (!real_images.empty()) write_seed("idx", std::string(which) + "-t10k-images-3", real_images);
            if (!real_labels.empty()) write_seed("idx", std::string(which) + "-t10k-labels-3", real_labels);
        }

        // ---- CIFAR-10: one record by hand, and the real test batch's first record ----
        std::string record(3073, '\0');
        record[0] = 6;  // frog
        for (size_t i = 1; i < record.size(); ++i) record[i] = static_cast<char>(i * 7);
        write_seed("cifar10", "one_record.bin", record);
        const std::string real_record = head_of(data + "/cifar-10-batches-bin/test_batch.bin", 3073);
        if (real_record.size() == 3073) write_seed("cifar10", "test_batch-record-0.bin", real_record);

        // ---- CIFAR-10's batches.meta.txt: the built-in names as the real file lays them out, the same with
        // CRLF line ends, and the real file ----
        std::string meta, meta_crlf;
        for (const char* name : kCifar10Classes) {
            meta += std::string(name) + "\n";
            meta_crlf += std::string(name) + "\r\n";
        }
        write_seed("cifar10_meta", "batches.meta.txt", meta + "\n");
        write_seed("cifar10_meta", "crlf.meta.txt", meta_crlf + "\r\n");
        const std::string real_meta = head_of(data + "/cifar-10-batches-bin/batches.meta.txt", 4096);
        if (!real_meta.empty()) write_seed("cifar10_meta", "real-batches.meta.txt", real_meta);

        // ---- PNM: a PGM and a PPM from encode_pnm, and a 16-bit PGM with a comment by hand ----
        Image grey{1, 2, 3, {0, 50, 100, 150, 200, 255}};
        Image colour{3, 2, 2, {255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 255}};
        write_seed("pnm", "grey.pgm", encode_pnm(grey));
        write_seed("pnm", "colour.ppm", encode_pnm(colour));
        write_seed("pnm", "sixteen_bit.pgm", std::string("P5\n# a comment\n2 1\n1000\n\x03\xe8\x00\x01", 22));

        // ---- metrics.csv as `train` writes it: its header and a row per epoch ----
        std::string csv = std::string(cli::kMetricsHeader) + "\n";
        for (int64_t epoch = 1; epoch <= 3; ++epoch)
            csv += cli::metrics_row({epoch, epoch * 469, 1e-3 / double(epoch), 2.3 / double(epoch), 0.1 * double(epoch), 2.25 / double(epoch), 0.11 * double(epoch),
                                     2.2 / double(epoch), 0.12 * double(epoch), 1234.5, 60.0 * double(epoch), 0, 512.0}) +
                   "\n";
        write_seed("metrics_csv", "metrics.csv", csv);
    } catch (const std::exception& error) {
        std::cerr << "make_seeds: " << error.what() << "\n";
        return 1;
    }
    std::cout << "make_seeds: seeds in " << g_out << (std::filesystem::exists(data + "/mnist") ||
                                                       std::filesystem::exists(data + "/cifar-10-batches-bin")
                                                   ? " (with the first bytes of the real datasets in " + data + ")"
                                                   : " (no datasets in " + data + ": written seeds only)")
              << "\n";
    return 0;
}
