// Numbers of the chapters that need the float32 build: the defaults table of docs/training.md, recomputed
// from the code the command line runs (default_config's shapes and schedule, and the parameter count of
// the model it builds), and the byte-by-byte dump of docs/checkpoint_format.md, which the float32 build
// writes.
#include <fstream>
#include <iterator>
#include <regex>

#include "core/io/safetensors.h"
#include "examples/cli/config.h"
#include "tests/helpers.h"

using namespace patchgrad;
using namespace patchgrad::cli;

TEST_CASE("doc numbers: training.md's defaults per dataset and model, parameter counts included") {
    struct Row {
        const char* model;
        const char* dataset;
        int64_t image_size, channels, patch, epochs, batch_size;
        double warmup_epochs, lr;
        int64_t parameters;
    };
    const Row rows[] = {
        {"vit", "cifar10", 32, 3, 4, 21, 128, 2, 1e-3, 880394},
        {"swin", "cifar10", 32, 3, 4, 21, 128, 2, 1e-3, 1796906},
        {"vit", "mnist", 28, 1, 7, 22, 64, 1, 2e-3, 151434},
        {"vit", "fashion-mnist", 28, 1, 4, 9, 64, 1, 2e-3, 138890},
        {"swin", "mnist", 28, 1, 2, 9, 64, 1, 1.5e-3, 95510},
        {"swin", "fashion-mnist", 28, 1, 2, 9, 64, 1, 1.5e-3, 95510},
    };
    for (const Row& row : rows) {
        CAPTURE(row.model);
        CAPTURE(row.dataset);
        const TrainConfig c = default_config(row.model, row.dataset);
        CHECK(c.image_size == row.image_size);
        CHECK(c.channels == row.channels);
        CHECK(c.patch == row.patch);
        CHECK(c.epochs == row.epochs);
        CHECK(c.batch_size == row.batch_size);
        CHECK(c.warmup_epochs == row.warmup_epochs);
        CHECK(c.lr == row.lr);
        const int64_t parameters = c.model == "vit" ? vit_config(c).parameter_count() : swin_config(c).parameter_count();
        CHECK(parameters == row.parameters);
    }
    // The widths of the table: ViT dim 128 / 64 with 6 / 4 blocks and MLP 256 / 128; Swin 128 / 32, window 4 / 7.
    const TrainConfig vit = default_config("vit", "cifar10"), vit_grey = default_config("vit", "mnist");
    CHECK((vit.dim == 128 && vit.depth == 6 && vit.heads == 4 && vit.mlp_dim == 256));
    CHECK((vit_grey.dim == 64 && vit_grey.depth == 4 && vit_grey.heads == 4 && vit_grey.mlp_dim == 128));
    const TrainConfig swin = default_config("swin", "cifar10"), swin_grey = default_config("swin", "mnist");
    CHECK((swin.embed_dim == 128 && swin.depths == std::vector<int64_t>{4, 2} && swin.window == 4));
    CHECK((swin.swin_heads == std::vector<int64_t>{4, 8} && swin.mlp_ratio == 2 && swin.stem == "conv"));
    CHECK((swin_grey.embed_dim == 32 && swin_grey.depths == std::vector<int64_t>{2, 2} && swin_grey.window == 7));
    CHECK(swin_grey.swin_heads == std::vector<int64_t>{2, 4});
}

TEST_CASE("doc numbers: checkpoint_format.md's xxd dump is what the float32 build writes, byte for byte") {
    std::ifstream in("docs/checkpoint_format.md");
    const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The dump's lines: "00000000: 7000 0000 ... 7461  p.......{"__meta      N = ..."; 16 bytes each.
    const std::regex line(R"(([0-9a-f]{8}): ((?:[0-9a-f]{4} ){7}[0-9a-f]{4}))");
    std::string dumped;
    for (auto it = std::sregex_iterator(doc.begin(), doc.end(), line); it != std::sregex_iterator(); ++it) {
        CHECK(std::stoul((*it)[1].str(), nullptr, 16) == dumped.size());  // the offsets follow on
        const std::string hex = std::regex_replace((*it)[2].str(), std::regex(" "), "");
        for (size_t i = 0; i < hex.size(); i += 2) dumped += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    REQUIRE(dumped.size() == 128);  // 8 + N = 120 bytes of header, 8 of data
    const std::string written = encode_safetensors({{"w", Tensor::from_vector({1, -2}, {2})}});
    CHECK(written == dumped);
    CHECK(written.substr(8, 109).find("crc32:c3872656") != std::string::npos);  // the JSON is 109 bytes
    CHECK(written.substr(117, 3) == "   ");                                     // padded to N = 112
    CHECK(crc32("123456789") == 0xcbf43926u);                                   // the check value
}
