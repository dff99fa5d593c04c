// One input image for predict and attention: see input_image.h.
#include "examples/cli/input_image.h"

#include "datasets/image_file.h"

namespace patchgrad::cli {

void add_input_flags(ArgParser& args, InputFlags& flags) {
    args.option("--checkpoint", &flags.checkpoint, "the checkpoint (best.safetensors or last.safetensors of a run)");
    args.positionals("IMAGE", &flags.images, "a binary PPM (P6) or PGM (P5) image", 1);
    args.option("--index", &flags.index, "test-set example N instead of an image", 0, int64_t{1} << 40);
    args.option("--data", &flags.data, "the data folder for --index (default: the checkpoint's)");
}

void check_input_flags(const ArgParser& args, const InputFlags& flags) {
    if (flags.checkpoint.empty())
        throw UsageError(args.command() + ": --checkpoint CKPT is required (see --help)");
    if (flags.images.empty() == !args.given("--index"))
        throw UsageError(args.command() + ": give either an IMAGE or --index N (see --help)");
}

InputImage load_input_image(const TrainConfig& config, const std::vector<std::string>& class_names,
                            const std::string& image_path, int64_t index) {
    const int64_t S = config.image_size, C = config.channels;
    InputImage input;
    ImageDataset& one = input.dataset;
    one.count = 1;
    one.channels = C;
    one.height = one.width = S;
    one.class_names = class_names;
    if (!image_path.empty()) {
        const Image original = read_pnm(image_path);
        const Image ready = resize_bilinear(convert_channels(original, C), S, S);
        one.pixels = ready.pixels;
        one.labels = {0};
        input.described = format_message(image_path, " (", original.width, "x", original.height,
                                         original.channels == 3 ? " colour" : " grey", " -> ", S, "x", S,
                                         C == 3 ? " colour" : " grey", ")");
    } else {
        const ImageDataset test_set = load_dataset(config, false);
        check_io(index >= 0 && index < test_set.count, "--index ", index, " but the test set of ", config.dataset,
                 " has ", test_set.count, " images (0..", test_set.count - 1, ")");
        one.pixels.assign(test_set.image(index), test_set.image(index) + test_set.image_size());
        input.label = test_set.labels[index];
        one.labels = {static_cast<uint8_t>(input.label)};
        input.described = format_message(config.dataset, " test image ", index);
    }
    return input;
}

Tensor normalized_input(const InputImage& input, const TrainConfig& config) {
    const DataLoader loader(input.dataset, eval_loader_options(config));
    Rng unused(0);  // the evaluation loader draws nothing
    return loader.batch(0, unused).images;
}

}  // namespace patchgrad::cli
