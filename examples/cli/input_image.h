#pragma once
// The one image that `patchgrad predict` and `patchgrad attention` look at: an image file (binary PPM or
// PGM, any size: datasets/image_file.h) or test-set example N, made ready for a checkpoint's model.
//
// An image file is converted to the model's channels (colour -> grey by BT.601 luma for an MNIST model;
// grey -> colour by repeating it for a CIFAR-10 model) and resized to the model's input (bilinear). Either
// way the result is a one-image dataset, so it goes through the very normalisation the training used
// (the evaluation loader's, datasets/dataloader.h).
#include <cstdint>
#include <string>

#include "datasets/dataset.h"
#include "examples/cli/args.h"
#include "examples/cli/config.h"

namespace patchgrad::cli {

// The flags that name the model and its input, the same in predict and attention.
struct InputFlags {
    std::string checkpoint;           // --checkpoint CKPT
    std::vector<std::string> images;  // IMAGE (at most one)
    int64_t index = -1;               // --index N: test-set example N instead of an image
    std::string data;                 // --data DIR for --index (default: the checkpoint's)
    std::string image() const { return images.empty() ? "" : images[0]; }  // "" with --index
};
// Declares --checkpoint, IMAGE, --index and --data on `args`.
void add_input_flags(ArgParser& args, InputFlags& flags);
// After parsing: throws UsageError (exit code 2) unless a checkpoint and exactly one of IMAGE and --index
// were given.
void check_input_flags(const ArgParser& args, const InputFlags& flags);

struct InputImage {
    ImageDataset dataset;    // one image (C, S, S) as bytes, the model's channels and side; labels {label or 0}
    int64_t label = -1;      // the true class of a test example; -1 for an image file
    std::string described;   // "cat.ppm (640x480 colour -> 32x32 colour)" or "cifar10 test image 7"
};

// `image_path` when not empty, else test example `index` of config's dataset (read from config.data).
// Throws std::runtime_error for an unreadable image or an index beyond the test set.
InputImage load_input_image(const TrainConfig& config, const std::vector<std::string>& class_names,
                            const std::string& image_path, int64_t index);

// The image normalised as the model's input: (1, C, S, S).
Tensor normalized_input(const InputImage& input, const TrainConfig& config);

}  // namespace patchgrad::cli
