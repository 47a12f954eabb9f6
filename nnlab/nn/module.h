// nn modules as in torch.nn: a Module owns named parameters and child modules; its
// parameters are listed with dotted names ("0.weight", "layer1.0.conv1.weight").
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nnlab/core/random.h"
#include "nnlab/core/tensor.h"

namespace nnlab::nn {

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  virtual std::string describe() const = 0;  // "Linear(784, 128)"
  Tensor operator()(const Tensor& x) { return forward(x); }

  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  // State that is not trained by gradients (batch norm's running statistics), as PyTorch's
  // buffers: saved in checkpoints, not given to optimizers.
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // Random streams the module draws from while training (Dropout's masks): checkpoints save
  // and restore their positions, so a resumed run draws what the uninterrupted one would.
  std::vector<std::pair<std::string, Generator*>> named_generators() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;
  void zero_grad();  // sets every gradient to none, as PyTorch's default
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  std::string summary() const;  // one line per module, indented, with parameter counts

 protected:
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  void register_generator(const std::string& name, Generator* gen) { generators_.emplace_back(name, gen); }
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, bool buffers, std::vector<std::pair<std::string, Tensor>>& out) const;
  void summarize(const std::string& name, int depth, std::string& out) const;

  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, Generator*>> generators_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace nnlab::nn
