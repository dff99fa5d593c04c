#pragma once
// What every exercise file includes: the library in float64 (the exercises build in the gradient-check
// flavour), the grading toolkit, and the exercises' declarations. Your code goes in namespace `learner`,
// so your function never clashes with the library's own op of the same name, which the grader compares
// it with. docs/exercises.md tells how the grading works.
#include <cmath>

#include "core/ops.h"
#include "examples/exercises/grading/exercises.h"
#include "nn/window.h"

using namespace patchgrad;
