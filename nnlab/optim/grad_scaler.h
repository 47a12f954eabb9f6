// Dynamic loss scaling for float16 mixed precision, as PyTorch's torch.cuda.amp.GradScaler.
// float16's smallest subnormal is 2^-24: small gradients flushed to zero in the 16-bit
// backward pass are saved by multiplying the loss by a large scale S first, so that every
// gradient is S times larger while it is 16-bit, and dividing the float32 gradients of the
// master weights by S before the optimizer uses them. Too large an S overflows float16 to
// infinity: then the step is skipped (the weights keep their values) and S is halved. After
// `growth_interval` steps in a row without overflow S doubles, to find the largest S that fits.
// bfloat16 has float32's range and needs no scaling: a disabled scaler is the identity.
//
//   GradScaler scaler;                       // init scale 2^16, x2 after 2000 good steps, /2 on overflow
//   scaler.scale(loss).backward();
//   scaler.step(optimizer);                  // unscales, checks for inf/NaN, steps unless found
//   scaler.update();                         // backs off or grows the scale
#pragma once
#include <cstdint>

#include "nnlab/core/tensor.h"
#include "nnlab/optim/optimizer.h"

namespace nnlab::optim {

// PyTorch's defaults.
struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});
  bool enabled() const { return options_.enabled; }

  // loss * scale (float32 arithmetic); the loss itself when disabled.
  Tensor scale(const Tensor& loss) const;
  // Divides the gradients of the optimizer's parameters by the scale (in place, float32) and
  // records whether any was infinite or NaN. Once per step at most (before clipping, say);
  // step() does it when it was not called. Gradients must be float32 or float64.
  void unscale(const Optimizer& optimizer);
  // Steps the optimizer unless the gradients held inf or NaN; returns whether it stepped.
  bool step(Optimizer& optimizer);
  // After step(): the scale times backoff_factor after an overflow, times growth_factor after
  // growth_interval steps in a row without one (if that stays finite in float32).
  void update();

  double scale_value() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }  // good steps since the last change
  int64_t skipped_steps() const { return skipped_; }          // steps skipped since construction
  // The state a checkpoint keeps (PyTorch's state_dict: scale and growth tracker).
  void load_state(double scale, int64_t growth_tracker);

 private:
  GradScalerOptions options_;
  float scale_;  // float32, as PyTorch's scale tensor
  int64_t growth_tracker_ = 0, skipped_ = 0;
  enum class Stage { Ready, Unscaled, Stepped } stage_ = Stage::Ready;
  bool found_inf_ = false;
};

}  // namespace nnlab::optim
