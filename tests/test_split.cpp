// datasets/split.h: the validation split holds out exactly `count` examples, disjoint from the training
// part and together all of them, each part in dataset order with its labels; the same Rng state gives
// the same split, another seed another; impossible counts are refused naming both numbers.
#include <algorithm>
#include <set>

#include "datasets/split.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// N examples of 1 x 1 x 2 pixels: example n holds the pixels (n, 255 - n) and the label n % 10, so every
// example of a part says which one it was.
ImageDataset numbered(int64_t N) {
    ImageDataset data;
    data.count = N;
    data.channels = 1;
    data.height = 1;
    data.width = 2;
    for (int64_t n = 0; n < N; ++n) {
        data.pixels.push_back(static_cast<uint8_t>(n));
        data.pixels.push_back(static_cast<uint8_t>(255 - n));
        data.labels.push_back(static_cast<uint8_t>(n % 10));
    }
    for (int k = 0; k < 10; ++k) data.class_names.push_back("class" + std::to_string(k));
    return data;
}

// Which examples of numbered() a part holds, checking that each one came whole (pixels and label).
std::vector<int64_t> examples_of(const ImageDataset& part) {
    std::vector<int64_t> which;
    for (int64_t i = 0; i < part.count; ++i) {
        const int64_t n = part.image(i)[0];
        CHECK(part.image(i)[1] == 255 - n);
        CHECK(part.labels[static_cast<size_t>(i)] == n % 10);
        which.push_back(n);
    }
    return which;
}

}  // namespace

TEST_CASE("split_validation: count held out, the rest kept, disjoint, in dataset order, with their labels") {
    const ImageDataset data = numbered(200);
    Rng rng(3);
    const TrainValidationSplit split = split_validation(data, 30, rng);
    CHECK(split.validation.count == 30);
    CHECK(split.train.count == 170);
    CHECK(split.train.class_names == data.class_names);
    CHECK(split.validation.channels == 1);
    CHECK(split.validation.width == 2);
    const std::vector<int64_t> held = examples_of(split.validation), kept = examples_of(split.train);
    CHECK(std::is_sorted(held.begin(), held.end()));
    CHECK(std::is_sorted(kept.begin(), kept.end()));
    std::set<int64_t> all(held.begin(), held.end());
    all.insert(kept.begin(), kept.end());
    CHECK(all.size() == 200);  // disjoint, and together every example
    // Not simply the first or last 30: a random choice spread over the whole set.
    CHECK(held.front() < 100);
    CHECK(held.back() >= 100);
}

TEST_CASE("split_validation: the held-out examples are a Fisher-Yates draw of the Rng, repeatable by its state") {
    const ImageDataset data = numbered(50);
    Rng a(11), b(11), c(12), expected_rng(11);
    const std::vector<int64_t> first = examples_of(split_validation(data, 5, a).validation);
    CHECK(examples_of(split_validation(data, 5, b).validation) == first);
    CHECK(examples_of(split_validation(data, 5, c).validation) != first);
    CHECK(a.state() == b.state());  // 5 draws each
    // The documented draw: position i takes a uniform pick of the 50 - i examples left.
    std::vector<int64_t> order(50);
    for (int64_t n = 0; n < 50; ++n) order[static_cast<size_t>(n)] = n;
    for (int64_t i = 0; i < 5; ++i)
        std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(i + expected_rng.randint(50 - i))]);
    std::vector<int64_t> expected(order.begin(), order.begin() + 5);
    std::sort(expected.begin(), expected.end());
    CHECK(first == expected);
    CHECK(expected_rng.state() == a.state());
}

TEST_CASE("split_validation: count 0 keeps everything; a count that leaves nothing to train on is refused") {
    const ImageDataset data = numbered(20);
    Rng rng(1);
    const Rng::State before = rng.state();
    const TrainValidationSplit none = split_validation(data, 0, rng);
    CHECK(none.validation.count == 0);
    CHECK(none.train.pixels == data.pixels);
    CHECK(none.train.labels == data.labels);
    CHECK(rng.state() == before);  // nothing drawn
    CHECK(contains(thrown_message([&] { split_validation(data, 20, rng); }),
                   "must hold 0 to 19 of the 20 training images (at least one must stay to train on), got 20"));
    CHECK(contains(thrown_message([&] { split_validation(data, -1, rng); }), "got -1"));
    CHECK(split_validation(data, 19, rng).train.count == 1);
}
