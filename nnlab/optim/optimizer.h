// Optimizers with torch.optim's update rules; each step is one fused backend op per
// parameter (sgd_update / adam_update), so GPU backends never round-trip to the host.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nnlab/core/backend.h"
#include "nnlab/core/tensor.h"

namespace nnlab::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual std::string describe() const = 0;
  // The optimizer's state for checkpoints: named tensors ("momentum.3" for parameter 3) and a
  // step count; load_state() takes what state() gave and checks every name and shape.
  virtual std::vector<std::pair<std::string, Tensor>> state() const = 0;
  virtual int64_t steps() const { return 0; }
  virtual void load_state(const std::vector<std::pair<std::string, Tensor>>& tensors,
                          int64_t steps) = 0;
  void zero_grad();  // gradients to none, as PyTorch's default set_to_none=True
  const std::vector<Tensor>& params() const { return params_; }

 protected:
  std::vector<Tensor> params_;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Tensor> params, SgdParams p);
  void step() override;
  std::string describe() const override;
  std::vector<std::pair<std::string, Tensor>> state() const override;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& tensors,
                  int64_t steps) override;

 private:
  SgdParams p_;
  std::vector<Tensor> momentum_;  // one buffer per parameter, created at its first step
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamParams p);
  void step() override;
  std::string describe() const override;
  std::vector<std::pair<std::string, Tensor>> state() const override;
  int64_t steps() const override { return step_; }
  void load_state(const std::vector<std::pair<std::string, Tensor>>& tensors,
                  int64_t steps) override;

 private:
  AdamParams p_;
  std::vector<Tensor> m_, v_;
  int64_t step_ = 0;
};

}  // namespace nnlab::optim
