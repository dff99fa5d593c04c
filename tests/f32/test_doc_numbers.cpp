// The defaults table of docs/training.md, recomputed from the code the command line runs: for each dataset
// and model, default_config's shapes, schedule and the parameter count of the model it builds.
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
        {"vit", "cifar10", 32, 3, 4, 21, 128, 2, 1e-3, 811146},
        {"swin", "cifar10", 32, 3, 2, 21, 128, 2, 1e-3, 1556902},
        {"vit", "mnist", 28, 1, 4, 9, 64, 1, 1.5e-3, 139018},
        {"vit", "fashion-mnist", 28, 1, 4, 9, 64, 1, 1.5e-3, 139018},
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
    // The widths of the table: ViT dim 128 / 64 with 6 / 4 blocks and MLP 256 / 128; Swin 64 / 32, window 4 / 7.
    const TrainConfig vit = default_config("vit", "cifar10"), vit_grey = default_config("vit", "mnist");
    CHECK((vit.dim == 128 && vit.depth == 6 && vit.heads == 4 && vit.mlp_dim == 256));
    CHECK((vit_grey.dim == 64 && vit_grey.depth == 4 && vit_grey.heads == 4 && vit_grey.mlp_dim == 128));
    const TrainConfig swin = default_config("swin", "cifar10"), swin_grey = default_config("swin", "mnist");
    CHECK((swin.embed_dim == 64 && swin.depths == std::vector<int64_t>{2, 2, 2} && swin.window == 4));
    CHECK((swin.swin_heads == std::vector<int64_t>{2, 4, 8} && swin.mlp_ratio == 2));
    CHECK((swin_grey.embed_dim == 32 && swin_grey.depths == std::vector<int64_t>{2, 2} && swin_grey.window == 7));
    CHECK(swin_grey.swin_heads == std::vector<int64_t>{2, 4});
}
