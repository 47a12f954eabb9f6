// Training checkpoints: one safetensors file (nnlab/core/safetensors.h) holding the model's
// parameters ("param/<name>") and buffers ("buffer/<name>"), the optimizer's state
// ("optim/<name>"), and in its metadata what the tensors do not say: the format version, the
// epoch just finished, the model and optimizer names, the seed, the optimizer's step count and
// the position of each random stream the model draws from ("rng/<name>": Dropout's masks), and
// loss scaling's state when there is one.
// The data order needs nothing more: it is a function of (seed, epoch). Written to a
// temporary file and renamed, so a crash mid-write keeps the previous checkpoint.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "nnlab/nn/module.h"
#include "nnlab/optim/optimizer.h"

namespace nnlab {

struct CheckpointInfo {
  int64_t epoch = 0;  // epochs completed
  std::string model, optimizer;
  uint64_t seed = 0;
  std::optional<double> momentum;  // SGD's momentum, recorded since its buffers depend on it
  // Loss scaling's state (optim::GradScaler, float16 mixed precision), as PyTorch's
  // GradScaler.state_dict(): the scale and the good steps since it last changed. 0: none.
  double loss_scale = 0;
  int64_t loss_scale_growth_tracker = 0;
};

// Throws std::runtime_error naming the path when it cannot be written (see save_safetensors).
void save_checkpoint(const std::string& path, const nn::Module& model,
                     const optim::Optimizer& optimizer, const CheckpointInfo& info);

// What the checkpoint says it holds, from its header alone: a run compares it with its own
// model, optimizer and seed before anything is restored.
CheckpointInfo read_checkpoint_info(const std::string& path);

// Restores model and optimizer in place. Throws std::runtime_error naming the file and the
// entry when something is missing or does not match (shape, dtype, format, optimizer state).
CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model,
                               optim::Optimizer& optimizer);

}  // namespace nnlab
