#include "nnlab/nn/module.h"

namespace nnlab::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return t;
}

void Module::collect(const std::string& prefix, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", true, out);
  return out;
}

std::vector<std::pair<std::string, Generator*>> Module::named_generators() const {
  std::vector<std::pair<std::string, Generator*>> out(generators_.begin(), generators_.end());
  for (const auto& [name, child] : children_)
    for (auto& [sub, gen] : child->named_generators()) out.emplace_back(name + "." + sub, gen);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::zero_grad() {
  for (const Tensor& t : parameters()) t.set_grad(Tensor());
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::summarize(const std::string& name, int depth, std::string& out) const {
  int64_t own = 0;
  for (const auto& [n, t] : params_) own += t.numel();
  out += std::string(size_t(depth) * 2, ' ') + (name.empty() ? "" : "(" + name + "): ") +
         describe() + (own ? "  [" + std::to_string(own) + " parameters]" : "") + "\n";
  for (const auto& [n, child] : children_) child->summarize(n, depth + 1, out);
}

std::string Module::summary() const {
  std::string out;
  summarize("", 0, out);
  return out + "total parameters: " + std::to_string(parameter_count()) + "\n";
}

}  // namespace nnlab::nn
