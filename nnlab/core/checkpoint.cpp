#include "nnlab/core/checkpoint.h"

#include <charconv>
#include <cmath>
#include <limits>
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

// The metadata's integers, written by std::to_string: decimal digits alone, in T's range (a
// seed takes all 64 bits).
template <typename T>
T number(const std::string& path, const std::string& key, const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error == std::errc() && stop == end && text[0] != '-') return value;
  throw std::runtime_error(path + ": metadata \"" + key + "\" is \"" + text +
                           "\", expected an integer in [0, " +
                           std::to_string(std::numeric_limits<T>::max()) + "]");
}

// Doubles as the shortest text that reads back to the same value ("0.9", not "0.900000").
std::string shortest(double v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

double finite_number(const std::string& path, const std::string& key, const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error == std::errc() && stop == end && std::isfinite(value)) return value;
  throw std::runtime_error(path + ": metadata \"" + key + "\" is \"" + text +
                           "\", expected a finite number");
}

CheckpointInfo info_of(const std::string& path, const std::map<std::string, std::string>& meta) {
  if (field(path, meta, "format") != kFormat)
    throw std::runtime_error(path + ": format \"" + meta.at("format") + "\", expected \"" +
                             kFormat + "\"");
  CheckpointInfo info;
  info.epoch = number<int64_t>(path, "epoch", field(path, meta, "epoch"));
  info.model = field(path, meta, "model");
  info.optimizer = field(path, meta, "optimizer");
  info.seed = number<uint64_t>(path, "seed", field(path, meta, "seed"));
  if (meta.count("momentum")) info.momentum = finite_number(path, "momentum", meta.at("momentum"));
  if (meta.count("loss_scale")) {
    info.loss_scale = finite_number(path, "loss_scale", meta.at("loss_scale"));
    if (!(info.loss_scale > 0))
      throw std::runtime_error(path + ": metadata \"loss_scale\" is \"" + meta.at("loss_scale") +
                               "\", expected a positive number");
    info.loss_scale_growth_tracker = number<int64_t>(
        path, "loss_scale_growth_tracker", field(path, meta, "loss_scale_growth_tracker"));
  }
  return info;
}

// "momentum.0, momentum.1, ... (8 entries)": what an optimizer state holds, for an error.
std::string entry_names(const NamedTensors& state) {
  if (state.empty()) return "no entries";
  std::string names;
  for (size_t i = 0; i < state.size() && i < 4; ++i) names += (i ? ", " : "") + state[i].first;
  return state.size() > 4 ? names + ", ... (" + std::to_string(state.size()) + " entries)" : names;
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
  if (info.momentum) metadata["momentum"] = shortest(*info.momentum);
  for (auto& [name, gen] : model.named_generators())  // the stream's position, its seed is the model's
    metadata["rng/" + name] = std::to_string(gen->offset);
  if (info.loss_scale > 0) {  // loss scaling's state, as GradScaler.state_dict()
    metadata["loss_scale"] = shortest(info.loss_scale);
    metadata["loss_scale_growth_tracker"] = std::to_string(info.loss_scale_growth_tracker);
  }
  save_safetensors(path, tensors, metadata);
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return info_of(path, load_safetensors_metadata(path));
}

CheckpointInfo load_checkpoint(const std::string& path, nn::Module& model,
                               optim::Optimizer& optimizer) {
  Backend& host = *model.parameters().front().impl().storage->backend;  // where the model lives
  SafetensorsFile file = load_safetensors(path, host);
  CheckpointInfo info = info_of(path, file.metadata);
  int64_t steps =
      number<int64_t>(path, "optimizer_steps", field(path, file.metadata, "optimizer_steps"));
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
    gen->offset = number<uint64_t>(path, "rng/" + name, field(path, file.metadata, "rng/" + name));
  try {
    optimizer.load_state(state, steps);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": the checkpoint holds " + info.optimizer + " state (" +
                             entry_names(state) + "), which does not fit " + optimizer.describe() +
                             ": " + e.what());
  }
  return info;
}

}  // namespace nnlab
