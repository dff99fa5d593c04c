#include "tests/fuzz/targets.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/atomic_file.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "datasets/cifar10.h"
#include "datasets/image_file.h"
#include "datasets/mnist.h"
#include "examples/cli/checkpoint.h"
#include "examples/cli/commands.h"
#include "examples/cli/config.h"
#include "tests/fuzz/fuzz_file.h"

namespace patchgrad::fuzz {

namespace {

std::string_view as_text(const uint8_t* data, size_t size) {
    return std::string_view(reinterpret_cast<const char*>(data), size);
}

// A promise about an accepted input is broken: a finding, whatever the caller.
[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz: %s\n", what);
    std::abort();
}

// A number printed from NaN or an infinity: "nan" or "inf" (after a '-' or not) with no letter either side.
bool holds_non_finite(const std::string& text) {
    const auto letter = [&](size_t i) { return i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])); };
    for (const char* word : {"nan", "inf"})
        for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1))
            if (!(at > 0 && letter(at - 1)) && !letter(at + 3)) return true;
    return false;
}

}  // namespace

// A safetensors file (core/io/safetensors.h), header and data, as load_safetensors decodes it, then what a
// reader does next: every tensor looked up by name, the checksum's metadata by key.
bool fuzz_safetensors(const uint8_t* data, size_t size) {
    try {
        const SafetensorsFile file = decode_safetensors(as_text(data, size));
        for (const auto& [name, tensor] : file.tensors) (void)file.tensor(name).numel();
        (void)file.find_metadata(kChecksumKey);
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

// JSON text (core/io/json.h) through parse_json; what it accepts, written again with dump() (compact and
// indented), must parse back to an equal value.
bool fuzz_json(const uint8_t* data, size_t size) {
    Json value;
    try {
        value = parse_json(as_text(data, size), "fuzz");
    } catch (const std::exception&) {
        return false;
    }
    // An accepted document holds only finite numbers and valid UTF-8, so dump() must not throw.
    if (!(parse_json(value.dump()) == value)) fail("json: a document does not parse back equal from dump()");
    if (!(parse_json(value.dump(2)) == value)) fail("json: a document does not parse back equal from dump(2)");
    return true;
}

// A run's config.json (examples/cli/config.h) as `--resume` and `eval` read it: parse_json, from_json and
// validate (a UsageError is a refusal too); a config that passes, written with to_json, reads back the same.
bool fuzz_config_json(const uint8_t* data, size_t size) {
    cli::TrainConfig config;
    try {
        config = cli::from_json(parse_json(as_text(data, size), "config.json"));
        cli::validate(config);
    } catch (const std::exception&) {
        return false;
    }
    if (!(cli::to_json(cli::from_json(cli::to_json(config))) == cli::to_json(config)))
        fail("config_json: a valid config does not read back the same from to_json");
    return true;
}

// A training checkpoint as `eval`, `predict` and `--resume` read it (examples/cli/checkpoint.h): the
// bytes decoded as a safetensors file, then read_checkpoint (the metadata: config, class names, training
// state; every tensor finite), then model_from_checkpoint (the model the config describes, built, with
// the file's weights loaded and its buffers compared). The memory limit matters most here: a config must
// not make the model built from it much larger than the file.
bool fuzz_checkpoint(const uint8_t* data, size_t size) {
    const std::string path = "checkpoint.safetensors";
    try {
        const SafetensorsFile file = decode_safetensors(as_text(data, size), path);
        (void)cli::model_from_checkpoint(cli::read_checkpoint(file, path));
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

// An IDX file of MNIST or Fashion-MNIST (datasets/mnist.h), read both as images and as labels, through the
// loaders' own path-based readers. True when either reading accepted it.
bool fuzz_idx(const uint8_t* data, size_t size) {
    const std::string path = write_input("train-images-idx3-ubyte", data, size);
    bool accepted = false;
    try {
        const ImageDataset images = read_idx_images(path, "mnist");
        (void)images.pixels.size();
        accepted = true;
    } catch (const std::exception&) {
    }
    try {
        (void)read_idx_labels(path, "mnist", 10);
        accepted = true;
    } catch (const std::exception&) {
    }
    return accepted;
}

// A CIFAR-10 batch file (datasets/cifar10.h) as load_cifar10 reads the test set: the bytes are the
// folder's test_batch.bin.
bool fuzz_cifar10(const uint8_t* data, size_t size) {
    write_input("test_batch.bin", data, size);
    try {
        const ImageDataset test = load_cifar10(scratch_dir(), false);
        (void)test.pixels.size();
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

// CIFAR-10's batches.meta.txt (datasets/cifar10.h) as `train` reads it: parse_cifar10_class_names, then
// the command line's check_class_names (examples/cli/config.cpp, load_dataset). What is accepted is 10
// names, none empty, none holding a line break or ending in a space or '\r'.
bool fuzz_cifar10_meta(const uint8_t* data, size_t size) {
    std::vector<std::string> names;
    try {
        names = parse_cifar10_class_names(as_text(data, size), "batches.meta.txt");
        cli::check_class_names(names, "batches.meta.txt");
    } catch (const std::exception&) {
        return false;
    }
    if (names.size() != 10) fail("cifar10_meta: accepted a number of names other than 10");
    for (const std::string& name : names)
        if (name.empty() || name.find('\n') != std::string::npos || name.back() == ' ' || name.back() == '\r')
            fail("cifar10_meta: accepted a name that is empty, spans lines or ends in a space or '\\r'");
    return true;
}

// A binary PGM or PPM image (datasets/image_file.h) as `patchgrad predict` reads it: read_pnm on the file,
// then what predict does with an image (to the model's channels, resized to its side).
bool fuzz_pnm(const uint8_t* data, size_t size) {
    const std::string path = write_input("image.pnm", data, size);
    try {
        const Image image = read_pnm(path);
        // Small images only: resizing a valid 65535 x 4000 raster takes a while, which is no finding.
        if (image.pixels.size() <= (size_t{1} << 16))
            for (const int64_t channels : {int64_t{1}, int64_t{3}})
                (void)resize_bilinear(convert_channels(image, channels), 32, 28).pixels.size();
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

// A run's metrics.csv as `patchgrad plot` and training read it (examples/cli/plot.cpp): the bytes are
// RUN_DIR/metrics.csv, and write_metrics_plot reads it and draws RUN_DIR/metrics.svg. Only finite numbers
// are accepted, and finite numbers (1e308 included) make a finite drawing: no "nan" or "inf" in the SVG.
bool fuzz_metrics_csv(const uint8_t* data, size_t size) {
    write_input("metrics.csv", data, size);
    try {
        cli::write_metrics_plot(scratch_dir());
    } catch (const std::exception&) {
        return false;
    }
    if (holds_non_finite(read_file(scratch_dir() + "/metrics.svg", uint64_t{1} << 30)))
        fail("metrics_csv: finite metrics drew a NaN or an infinity into metrics.svg");
    return true;
}

}  // namespace patchgrad::fuzz
