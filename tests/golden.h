// Golden runs: the first training steps of fixed-seed models on real MNIST, shared by the e2e
// suite (CPU backends and the simulator) and the gpu suite (cuda, cudnn).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nnlab::testing {

// The losses of the first `steps` SGD steps (lr 0.01, seed 0) of a model on MNIST: the
// notebook's MLP at batch 64 by default, or LeNet's MNIST variant. threads > 0 sets the
// backend's threads for the run.
std::vector<float> first_losses(const std::string& backend_name, int steps, int threads = 0,
                                const std::string& model = "mlp", int64_t batch = 64);

// Recorded from `reference` on this project's first run (seed 0). Initial loss ~ ln(10) = 2.30.
inline const std::vector<float> kGoldenLosses = {2.30108047f, 2.29184079f, 2.31167579f, 2.29875517f,
                                          2.28833628f, 2.3023324f,  2.29571891f, 2.29626322f,
                                          2.29759097f, 2.29713917f};

}  // namespace nnlab::testing
