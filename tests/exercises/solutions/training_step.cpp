// A reference solution of examples/exercises/training_step.cpp, kept apart from the skeleton.
#include "optim/clip.h"
#include "tests/exercises/solutions/solutions.h"

namespace solution {

double training_step(const std::function<Tensor(const Tensor&)>& model, const Tensor& images, const Tensor& labels,
                     Optimizer& optimizer, double max_grad_norm) {
    optimizer.zero_grad();                                // last step's gradients would add into this one's
    Tensor loss = cross_entropy(model(images), labels);
    loss.backward();
    std::vector<Tensor> parameters;
    for (const auto& [name, p] : optimizer.named_parameters()) parameters.push_back(p);
    clip_grad_norm(parameters, max_grad_norm);            // after the gradients exist, before the step reads them
    optimizer.step();
    return loss.item();
}

}  // namespace solution
