// autograd_by_hand_f64: the worked example of docs/autograd.md (examples/autograd_by_hand.h), run by the
// engine: every tensor's value and gradient, and one step of gradient descent. With --svg FILE it also
// draws the expression's graph, each box with its numbers (Tensor::to_svg); `make figures` draws
// docs/img/autograd-graph.svg this way.
//
//   build/examples/autograd_by_hand_f64
//   build/examples/autograd_by_hand_f64 --svg graph.svg
//
// Built in the float64 flavour (the _f64 ending tells the Makefile), like the chapter's arithmetic.
#include <cstring>
#include <fstream>
#include <iostream>

#include "examples/autograd_by_hand.h"

using namespace patchgrad;

int main(int argc, char** argv) {
    if (argc == 1) {
        std::cout << autograd_by_hand::report();
        return 0;
    }
    if (argc != 3 || std::strcmp(argv[1], "--svg") != 0) {
        std::cerr << "usage: autograd_by_hand_f64 [--svg FILE]\n";
        return 2;
    }
    std::ofstream file(argv[2], std::ios::binary);
    file << autograd_by_hand::figure();
    file.close();
    if (!file) {
        std::cerr << "autograd_by_hand_f64: cannot write " << argv[2] << "\n";
        return 1;
    }
    std::cout << "wrote " << argv[2] << "\n";
    return 0;
}
