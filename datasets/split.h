#pragma once
// A validation split: examples held out of the training set, for choosing without the test set.
//
// A recipe, a checkpoint or an early stop chosen by test accuracy is chosen *for* the test set, and the
// test figure it reports is then optimistic. `patchgrad train --val N` holds out N training images
// instead: they are never trained on, the choices are made on them, and the test set is only reported.
//
//   TrainValidationSplit split = split_validation(train_set, 5000, rng);
//   split.train        (N - 5000 examples)   what the run trains on
//   split.validation   (5000 examples)       what it chooses by
//
// Which examples are held out is a seeded random choice: the first `count` positions of a Fisher-Yates
// shuffle of 0, 1, ..., N-1 (`count` draws of rng.randint, in order). Both parts keep the dataset's order,
// so a split is the same for the same Rng state on every machine, and the classes are represented in
// proportion (on average) without being forced to be. docs/training.md, "A validation split".
#include <cstdint>

#include "core/random.h"
#include "datasets/dataset.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

struct TrainValidationSplit {
    ImageDataset train;       // the examples not held out, in dataset order
    ImageDataset validation;  // the `count` examples held out, in dataset order
};

// 0 <= count < data.count (at least one example must stay to train on); throws std::invalid_argument
// naming both numbers otherwise. count = 0: train is a copy of data, validation is empty.
TrainValidationSplit split_validation(const ImageDataset& data, int64_t count, Rng& rng);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
