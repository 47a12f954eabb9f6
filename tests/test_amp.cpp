// Mixed precision as PyTorch's AMP: autocast's dtype choices (nnlab/core/autocast.h) and
// dynamic loss scaling (nnlab/optim/grad_scaler.h), whose state checkpoints keep.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <unistd.h>
#include <vector>

#include "nnlab/backends/registry.h"
#include "nnlab/core/autocast.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"
#include "nnlab/core/random.h"
#include "nnlab/nn/layers.h"
#include "nnlab/optim/grad_scaler.h"
#include "nnlab/optim/optimizer.h"

using namespace nnlab;

namespace {
Tensor param(const std::vector<float>& values, const Shape& shape, Backend& be) {
  return Tensor::from_host(values, shape, be).set_requires_grad(true);
}

// A two-layer network whose second weight is used twice; returns the loss.
Tensor two_layers(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& w2,
                  const Tensor& labels, Tensor* hidden = nullptr, Tensor* logits_out = nullptr) {
  Tensor h = ops::relu(ops::linear(x, w, b));
  Tensor logits = ops::add(ops::linear(h, w2, Tensor()), ops::linear(h, w2, Tensor()));
  if (hidden) *hidden = h;
  if (logits_out) *logits_out = logits;
  return ops::cross_entropy(logits, labels);
}
}  // namespace

TEST_CASE("autocast: GEMMs in 16 bits, losses in float32, master weights and gradients float32") {
  Backend& be = get_backend("cpu");
  Tensor x = Tensor::from_host(std::vector<float>{0.5f, -1, 2, 0.25f, 1, 1}, Shape{2, 3}, be);
  Tensor labels = Tensor::from_host(std::vector<int32_t>{1, 0}, Shape{2}, be);
  auto make_params = [&] {
    return std::vector<Tensor>{param({0.1f, 0.2f, 0.3f, -0.1f, 0.4f, 0.5f}, Shape{2, 3}, be),
                               param({0.01f, -0.02f}, Shape{2}, be),
                               param({0.7f, -0.3f, 0.2f, 0.9f}, Shape{2, 2}, be)};
  };
  std::vector<Tensor> p32 = make_params();
  two_layers(x, p32[0], p32[1], p32[2], labels).backward();
  for (DType dtype : {DType::F16, DType::BF16}) {
    CAPTURE(std::string(dtype_name(dtype)));
    std::vector<Tensor> p = make_params();
    Tensor h, logits, loss;
    int64_t casts = 0;
    {
      AutocastGuard autocast(dtype);
      CHECK(autocast_enabled());
      CHECK(autocast_dtype() == dtype);
      Profiler profiler;
      loss = two_layers(x, p[0], p[1], p[2], labels, &h, &logits);
      casts = profiler.by_op().at(Op::Cast).calls;
    }
    CHECK_FALSE(autocast_enabled());
    CHECK(h.dtype() == dtype);       // activations between GEMMs stay 16-bit
    CHECK(logits.dtype() == dtype);
    CHECK(loss.dtype() == DType::F32);  // the loss in float32
    // x, w, b, w2 once (the second use of w2 comes from the cast cache), logits to float32.
    CHECK(casts == 5);
    loss.backward();
    for (size_t i = 0; i < p.size(); ++i) {
      CAPTURE(i);
      CHECK(p[i].dtype() == DType::F32);
      REQUIRE(p[i].grad().defined());
      CHECK(p[i].grad().dtype() == DType::F32);  // the optimizer reads float32 gradients
      std::vector<double> got = p[i].grad().to_host_doubles(), want = p32[i].grad().to_host_doubles();
      for (size_t j = 0; j < got.size(); ++j)
        CHECK(got[j] == doctest::Approx(want[j]).epsilon(dtype == DType::F16 ? 0.01 : 0.05).scale(1));
    }
    // Outside the guard the same ops run in float32 again.
    CHECK(ops::linear(x, p[0], p[1]).dtype() == DType::F32);
  }
  CHECK_THROWS_AS(AutocastGuard(DType::F32), std::invalid_argument);
}

TEST_CASE("GradScaler: an overflow skips the step and halves the scale; growth after N good steps") {
  Backend& be = get_backend("cpu");
  optim::GradScalerOptions options;
  options.growth_interval = 3;
  optim::GradScaler scaler(options);
  CHECK(scaler.scale_value() == 65536.0);
  Tensor w = param({0.5f, -0.25f}, Shape{1, 2}, be);
  SgdParams sgd_params;
  sgd_params.lr = 0.5;
  optim::Sgd sgd({w}, sgd_params);
  Tensor x = Tensor::from_host(std::vector<float>{0.001f, 0.002f}, Shape{1, 2}, be);
  auto scaled_backward = [&] {
    sgd.zero_grad();
    AutocastGuard autocast(DType::F16);
    // d(sum)/d(output) = scale: 65536 overflows float16 (largest 65504) on its way into the
    // 16-bit linear's backward, so the weight's gradient is infinite.
    scaler.scale(ops::sum(ops::linear(x, w, Tensor()))).backward();
  };

  scaled_backward();
  CHECK_FALSE(std::isfinite(w.grad().to_host<float>()[0]));
  CHECK_FALSE(scaler.step(sgd));  // skipped: the weights keep their values
  CHECK(w.to_host<float>() == std::vector<float>{0.5f, -0.25f});
  scaler.update();
  CHECK(scaler.scale_value() == 32768.0);
  CHECK(scaler.skipped_steps() == 1);

  // 32768 fits: the step runs on the unscaled gradient, x rounded to float16.
  for (int good = 1; good <= 3; ++good) {
    CAPTURE(good);
    std::vector<float> before = w.to_host<float>();
    scaled_backward();
    CHECK(scaler.step(sgd));
    std::vector<float> grad = w.grad().to_host<float>();
    CHECK(grad[0] == float(Half(0.001f)));  // d sum(x w^T) / dw = x, unscaled exactly (2^-15)
    CHECK(grad[1] == float(Half(0.002f)));
    CHECK(w.to_host<float>()[0] == before[0] - 0.5f * grad[0]);
    scaler.update();
    CHECK(scaler.growth_tracker() == good % 3);
    CHECK(scaler.scale_value() == (good < 3 ? 32768.0 : 65536.0));  // grows after 3 good steps
  }
  CHECK(scaler.skipped_steps() == 1);
  scaled_backward();  // back at 65536: overflows again
  CHECK_FALSE(scaler.step(sgd));
  scaler.update();
  CHECK(scaler.scale_value() == 32768.0);
  CHECK(scaler.skipped_steps() == 2);
  CHECK(scaler.growth_tracker() == 0);

  // Misuse is named: update() before step(), a second step() without update().
  CHECK_THROWS_AS(scaler.update(), std::logic_error);
  scaled_backward();
  scaler.step(sgd);
  CHECK_THROWS_AS(scaler.step(sgd), std::logic_error);
  scaler.update();
}

TEST_CASE("GradScaler: a NaN gradient also skips; disabled (bfloat16) it is the identity") {
  Backend& be = get_backend("reference");
  Tensor w = param({1.0f}, Shape{1}, be);
  SgdParams sgd_params;
  sgd_params.lr = 1;
  optim::Sgd sgd({w}, sgd_params);
  optim::GradScaler scaler;
  w.set_grad(Tensor::full(Shape{1}, std::nan(""), DType::F32, be));
  CHECK_FALSE(scaler.step(sgd));
  scaler.update();
  CHECK(scaler.scale_value() == 32768.0);
  CHECK(w.item() == 1.0);

  optim::GradScalerOptions off;
  off.enabled = false;
  optim::GradScaler disabled(off);
  Tensor loss = Tensor::full(Shape{}, 3.0, DType::F32, be);
  CHECK(disabled.scale(loss).item() == 3.0);
  w.set_grad(Tensor::full(Shape{1}, 0.25, DType::F32, be));
  CHECK(disabled.step(sgd));
  disabled.update();
  CHECK(w.item() == 0.75);
  CHECK(disabled.skipped_steps() == 0);

  // Gradients of 16-bit parameters cannot be unscaled: master weights are float32.
  Tensor h = Tensor::from_host(std::vector<Half>{Half(1.0f)}, Shape{1}, be).set_requires_grad(true);
  h.set_grad(Tensor::from_host(std::vector<Half>{Half(1.0f)}, Shape{1}, be));
  optim::Sgd half_sgd({h}, sgd_params);
  optim::GradScaler scaler16;
  CHECK_THROWS_AS(scaler16.step(half_sgd), std::invalid_argument);
}

TEST_CASE("GradScaler: a checkpoint keeps the loss scale and its growth tracker") {
  Backend& be = get_backend("cpu");
  Generator gen(1);
  nn::Linear model(3, 2, be, gen);
  SgdParams sgd_params;
  optim::Sgd sgd(model.parameters(), sgd_params);
  std::string path = (std::filesystem::temp_directory_path() /
                      ("nnlab_amp_" + std::to_string(::getpid()) + ".safetensors")).string();
  CheckpointInfo info;
  info.epoch = 2;
  info.model = "linear";
  info.optimizer = "sgd";
  info.loss_scale = 0.125;  // after many back-offs: below 1
  info.loss_scale_growth_tracker = 7;
  save_checkpoint(path, model, sgd, info);
  CheckpointInfo back = load_checkpoint(path, model, sgd);
  CHECK(back.loss_scale == 0.125);
  CHECK(back.loss_scale_growth_tracker == 7);
  optim::GradScaler scaler;
  scaler.load_state(back.loss_scale, back.loss_scale_growth_tracker);
  CHECK(scaler.scale_value() == 0.125);
  CHECK(scaler.growth_tracker() == 7);
  info.loss_scale = 0;  // no loss scaling: nothing saved, nothing restored
  save_checkpoint(path, model, sgd, info);
  CHECK(load_checkpoint(path, model, sgd).loss_scale == 0);
  std::filesystem::remove(path);
}
