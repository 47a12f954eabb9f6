#include "nnlab/optim/grad_scaler.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"

namespace nnlab::optim {

GradScaler::GradScaler(GradScalerOptions o) : options_(o), scale_(float(o.init_scale)) {
  if (!(o.init_scale > 0) || !std::isfinite(float(o.init_scale)))
    throw std::invalid_argument("GradScaler: init_scale must be a positive float32, got " +
                                std::to_string(o.init_scale));
  if (!(o.growth_factor > 1.0))
    throw std::invalid_argument("GradScaler: growth_factor must be > 1, got " + std::to_string(o.growth_factor));
  if (!(o.backoff_factor > 0 && o.backoff_factor < 1.0))
    throw std::invalid_argument("GradScaler: backoff_factor must be in (0, 1), got " +
                                std::to_string(o.backoff_factor));
  if (o.growth_interval < 1)
    throw std::invalid_argument("GradScaler: growth_interval must be >= 1, got " +
                                std::to_string(o.growth_interval));
}

Tensor GradScaler::scale(const Tensor& loss) const {
  if (!enabled()) return loss;
  return ops::scale(loss, double(scale_));
}

void GradScaler::unscale(const Optimizer& optimizer) {
  if (!enabled()) return;
  if (stage_ == Stage::Unscaled)
    throw std::logic_error("GradScaler: unscale() has already been called since the last update()");
  if (stage_ == Stage::Stepped)
    throw std::logic_error("GradScaler: unscale() after step(); call update() first");
  // PyTorch's inverse: computed in double, kept in float32.
  double inv_scale = double(float(1.0 / double(scale_)));
  Tensor found_inf;
  for (const Tensor& p : optimizer.params()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (is_reduced_float(g.dtype()))
      throw std::invalid_argument(std::string("GradScaler: a ") + dtype_name(g.dtype()) +
                                  " gradient; master weights and their gradients must be float32 "
                                  "(autocast casts the 16-bit copies)");
    Backend& be = g.backend();
    if (!found_inf.defined()) found_inf = Tensor::zeros(Shape{1}, DType::F32, be);
    OpScope op_scope(be, Op::AmpUnscale, g.dtype());
    be.amp_unscale(g, inv_scale, found_inf);
  }
  found_inf_ = found_inf.defined() && found_inf.item() != 0;  // one synchronisation per step
  stage_ = Stage::Unscaled;
}

bool GradScaler::step(Optimizer& optimizer) {
  if (!enabled()) {
    optimizer.step();
    return true;
  }
  if (stage_ == Stage::Stepped)
    throw std::logic_error("GradScaler: step() has already been called since the last update()");
  if (stage_ == Stage::Ready) unscale(optimizer);
  stage_ = Stage::Stepped;
  if (found_inf_) {
    ++skipped_;
    return false;
  }
  optimizer.step();
  return true;
}

void GradScaler::update() {
  if (!enabled()) return;
  if (stage_ != Stage::Stepped)
    throw std::logic_error("GradScaler: update() without a step() since the last update()");
  if (found_inf_) {
    scale_ = float(double(scale_) * options_.backoff_factor);
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == options_.growth_interval) {
    float grown = float(double(scale_) * options_.growth_factor);
    if (std::isfinite(grown)) scale_ = grown;
    growth_tracker_ = 0;
  }
  stage_ = Stage::Ready;
  found_inf_ = false;
}

void GradScaler::load_state(double scale, int64_t growth_tracker) {
  if (!(scale > 0) || !std::isfinite(float(scale)) || growth_tracker < 0 ||
      growth_tracker >= options_.growth_interval)
    throw std::invalid_argument("GradScaler state: scale " + std::to_string(scale) +
                                " and growth tracker " + std::to_string(growth_tracker) +
                                " (expected a positive float32 and [0, growth_interval))");
  scale_ = float(scale);
  growth_tracker_ = growth_tracker;
  stage_ = Stage::Ready;
  found_inf_ = false;
}

}  // namespace nnlab::optim
