#include "nnlab/core/checkpoint.h"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "nnlab/core/backend.h"
#include "nnlab/core/safetensors.h"

namespace nnlab {
namespace {
constexpr const char* kFormat = "nnlab-checkpoint/1";

// Copies a loaded tensor into the live one after checking they match.
void restore(const std::string& path, const std::string& name, const Tensor& src,
             const Tensor& dst) {
  if (src.shape() != dst.shape() || src.dtype() != dst.dtype())
    throw std::runtime_error(path + ": \"" + name + "\" is " + src.shape().str() + " " +
                             dtype_name(src.dtype()) + ", the model needs " + dst.shape().str() +
                             " " + dtype_name(dst.dtype()));
  dst.copy_from(src);
}

const std::string& field(const std::string& path, const std::map<std::string, std::string>& meta,
                         const std::string& key) {
  auto it = meta.find(key);
  if (it == meta.end())
    throw std::runtime_error(path + ": metadata lacks \"" + key + "\" (not an nnlab checkpoint?)");
  return it->second;
}

int64_t number(const std::string& path, const std::string& key, const std::string& text) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw std::runtime_error(path + ": metadata \"" + key + "\" is \"" + text +
                           "\", expected a non-negative integer");
}
}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model,
                     const optim::Optimizer& optimizer, const CheckpointInfo& info) {
  NamedTensors tensors;
  for (auto& [name, t] : model.named_parameters()) tensors.emplace_back("param/" + name, t);
  for (auto& [name, t] : model.named_buffers()) tensors.emplace_back("buffer/" + name, t);
  for (auto& [name, t] : optimizer.state()) tensors.emplace_back("optim/" + name, t);
  std::map<std::string, std::string> metadata = {{"format", kFormat},
                                                 {"epoch", std::to_string(info.epoch)},
                                                 {"model", info.model},
                                                 {"optimizer", info.optimizer},
                                                 {"seed", std::to_string(info.seed)},
                                                 {"optimizer_steps", std::to_string(optimizer.steps())}};
  for (auto& [name, gen] : model.named_generators())  // the stream's position, its seed is the model's
    metadata["rng/" + name] = std::to_string(gen->offset);
  if (info.loss_scale > 0) {
    std::ostringstream scale;
    scale << std::setprecision(17) << info.loss_scale;  // exact for the float32 scale
    metadata["loss_scale"] = scale.str();
    metadata["loss_scale_growth_tracker"] = std::to_string(info.loss_scale_growth_tracker);
  }
  save_safetensors(path, tensors, metadata);
}

CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model,
                               optim::Optimizer& optimizer) {
  Backend& host = *model.parameters().front().impl().storage->backend;  // where the model lives
  SafetensorsFile file = load_safetensors(path, host);
  if (field(path, file.metadata, "format") != kFormat)
    throw std::runtime_error(path + ": format \"" + file.metadata["format"] + "\", expected \"" +
                             kFormat + "\"");
  CheckpointInfo info;
  info.epoch = number(path, "epoch", field(path, file.metadata, "epoch"));
  info.model = field(path, file.metadata, "model");
  info.optimizer = field(path, file.metadata, "optimizer");
  info.seed = uint64_t(number(path, "seed", field(path, file.metadata, "seed")));
  int64_t steps = number(path, "optimizer_steps", field(path, file.metadata, "optimizer_steps"));
  if (file.metadata.count("loss_scale")) {
    const std::string& text = file.metadata["loss_scale"];
    size_t used = 0;
    try {
      info.loss_scale = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || !(info.loss_scale > 0) || !std::isfinite(info.loss_scale))
      throw std::runtime_error(path + ": metadata \"loss_scale\" is \"" + text +
                               "\", expected a positive number");
    info.loss_scale_growth_tracker =
        number(path, "loss_scale_growth_tracker", field(path, file.metadata, "loss_scale_growth_tracker"));
  }
  auto take = [&](const std::string& key) -> const Tensor& {
    auto it = file.tensors.find(key);
    if (it == file.tensors.end())
      throw std::runtime_error(path + ": no tensor \"" + key + "\" for this model");
    return it->second;
  };
  size_t expected = 0;
  for (auto& [name, t] : model.named_parameters())
    restore(path, "param/" + name, take("param/" + name), t), ++expected;
  for (auto& [name, t] : model.named_buffers())
    restore(path, "buffer/" + name, take("buffer/" + name), t), ++expected;
  NamedTensors state;
  for (auto& [key, t] : file.tensors)
    if (key.rfind("optim/", 0) == 0) state.emplace_back(key.substr(6), t);
  if (file.tensors.size() != expected + state.size())
    throw std::runtime_error(path + ": " +
                             std::to_string(file.tensors.size() - expected - state.size()) +
                             " tensors belong to no parameter or buffer of this model");
  for (auto& [name, gen] : model.named_generators())
    gen->offset = uint64_t(number(path, "rng/" + name, field(path, file.metadata, "rng/" + name)));
  optimizer.load_state(state, steps);
  return info;
}

}  // namespace nnlab
