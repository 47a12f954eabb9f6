// The layers of the MLP slice: Linear, ReLU, Flatten, LogSoftmax, Sequential.
#pragma once
#include <memory>
#include <vector>

#include "core/nn/module.h"
#include "core/random.h"

namespace nnlab {
class Backend;
}

namespace nnlab::nn {

// y = x W^T + b, initialised as torch.nn.Linear (kaiming_uniform a=sqrt(5), bias U(±1/√in)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Backend& backend, Generator& gen,
         DType dtype = DType::F32, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;

 private:
  int64_t in_, out_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "ReLU()"; }
};

class Flatten : public Module {  // [n, ...] -> [n, rest]
 public:
  Tensor forward(const Tensor& x) override { return x.flatten(); }
  std::string describe() const override { return "Flatten()"; }
};

class LogSoftmax : public Module {  // over the last dimension of [n, c]
 public:
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "LogSoftmax(dim=1)"; }
};

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> layers);
  void append(std::shared_ptr<Module> layer);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "Sequential"; }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace nnlab::nn
