#include "nnlab/core/backend.h"

#include <chrono>
#include <stdexcept>

namespace nnlab {

const char* op_name(Op op) {
  switch (op) {
#define NNLAB_OP(Name, stem, params) \
  case Op::Name:                     \
    return #stem;
#include "nnlab/core/ops.def"
  }
  return "unknown op";
}

int64_t Window2d::out_size(int64_t in, bool height) const {
  int64_t k = height ? kernel_h : kernel_w, s = height ? stride_h : stride_w;
  int64_t p = height ? pad_h : pad_w, d = height ? dilation_h : dilation_w;
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

namespace {
class HostStopwatch : public Stopwatch {
 public:
  explicit HostStopwatch(Backend& backend) : backend_(backend) {}
  void start() override {
    backend_.synchronize();
    start_ = std::chrono::steady_clock::now();
  }
  double stop_seconds() override {
    backend_.synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  Backend& backend_;
  std::chrono::steady_clock::time_point start_;
};
}  // namespace

const char* precision_name(Precision p) { return p == Precision::TF32 ? "tf32" : "fp32"; }

std::string Backend::set_precision(Precision p) {
  return p == Precision::FP32 ? "fp32" : "fp32 (" + name() + " has no " + precision_name(p) + " mode)";
}

std::unique_ptr<Stopwatch> Backend::make_stopwatch() { return std::make_unique<HostStopwatch>(*this); }

void require_op(const Backend& backend, Op op, DType dtype) {
  if (!backend.supports(op, dtype))
    throw std::runtime_error("backend '" + backend.name() + "' does not support op " + op_name(op) +
                             " for dtype " + dtype_name(dtype));
}

}  // namespace nnlab
