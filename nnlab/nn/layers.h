// The layers of the MLP slice: Linear, ReLU, Flatten, LogSoftmax, Sequential.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nnlab/core/backend.h"
#include "nnlab/core/random.h"
#include "nnlab/nn/module.h"


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

// torch.nn.Conv2d (groups 1): weight [out, in, k, k] and bias initialised as PyTorch does,
// kaiming_uniform(a = sqrt(5)) and U(+-1/sqrt(fan_in)) with fan_in = in * k * k.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Backend& backend, Generator& gen,
         int64_t stride = 1, int64_t padding = 0, bool bias = true, int64_t dilation = 1,
         DType dtype = DType::F32);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;
  Window2d window;
};

// torch.nn.BatchNorm2d: affine weight 1 and bias 0; running mean 0 and variance 1 (buffers).
class BatchNorm2d : public Module {
 public:
  BatchNorm2d(int64_t channels, Backend& backend, DType dtype = DType::F32, double momentum = 0.1,
              double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias, running_mean, running_var;

 private:
  double momentum_, eps_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);  // stride 0: kernel
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  Window2d window_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  Window2d window_;
};

// torch.nn.AdaptiveAvgPool2d((1, 1)) followed by flatten: [n, c, h, w] -> [n, c].
class GlobalAvgPool2d : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return "GlobalAvgPool2d()"; }
};

// torch.nn.Dropout with its own Philox stream (seeded from the model's generator).
class Dropout : public Module {
 public:
  Dropout(double p, Generator& gen);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  double p_;
  Generator gen_;
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
