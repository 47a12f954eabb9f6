// The backend over the hand-written kernels (class CudaBackend), written once against the
// CUDA runtime API and compiled in both kernel builds: by nvcc it is `cuda` (nnlab::cuda), as
// C++ over the simulator's runtime it is `cuda-sim` (nnlab::cuda_sim), so the host code the
// GPU runs is the code the simulator tests. backends/cudnn derives from it and replaces the
// ops cuBLAS and cuDNN cover. Device memory goes through a caching allocator (cudaMalloc
// synchronises and is slow); every runtime call is checked and reported with the caller's
// file and line. Only the kernel builds include it (nvcc, or NNLAB_SIM defined).
//
// The runtime also records a failed call's error as the thread's last error, which the next
// launch's check (cudaGetLastError, nnlab/backends/cuda/portable.h) would report as its own failure: an
// error handled here is therefore taken back with cudaGetLastError. A kernel fault (an illegal
// address) is sticky instead: every later call returns it, and it is reported as it is.
#pragma once
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/cuda/portable.h"
#include "nnlab/core/backend.h"

namespace nnlab::NNLAB_KERNELS {

inline void check(cudaError_t err, const char* call, const char* file, int line) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // reported here: not again by the next launch
  throw std::runtime_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) +
                           ": " + cudaGetErrorString(err));
}
#define NNLAB_CUDA_CHECK(call) ::nnlab::NNLAB_KERNELS::check((call), #call, __FILE__, __LINE__)

#ifdef NNLAB_SIM
inline constexpr const char* kName = "cuda-sim";
#else
inline constexpr const char* kName = "cuda";
#endif

class DeviceAllocator : public CachingAllocator {
 public:
  // Never throws (std::terminate): at exit the runtime may be unloaded already, and after a
  // kernel fault every cudaFree fails; what could not be freed is said on stderr.
  ~DeviceAllocator() override {
    try {
      empty_cache();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: cached device memory not released: %s\n", kName, e.what());
    }
  }

 protected:
  void* raw_allocate(size_t bytes) override {
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, bytes);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: the retry after emptying the cache may succeed
      size_t free_bytes = 0, total = 0;
      if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) cudaGetLastError();
      throw OutOfMemory(std::string(kName) + ": out of device memory allocating " +
                        std::to_string(bytes) + " bytes (" + std::to_string(free_bytes) + " of " +
                        std::to_string(total) + " free); try a smaller --batch-size");
    }
    // Anything else, such as the sticky fault of an earlier kernel, is reported as it is.
    check(err, "cudaMalloc(&ptr, bytes)", __FILE__, __LINE__);
    return ptr;
  }
  void raw_free(void* ptr) override { NNLAB_CUDA_CHECK(cudaFree(ptr)); }
  // cudaFree only "may" synchronise: kernels still queued may read the blocks being freed.
  void wait_until_unused() override { NNLAB_CUDA_CHECK(cudaDeviceSynchronize()); }
};

// The device's one caching allocator (device 0, the only one used), shared by every backend
// on it -- cuda and cudnn in one process -- so that one's out-of-memory retry can give back
// what the other has cached. It lives as long as the process, as the backends do.
inline DeviceAllocator& device_allocator() {
  static auto* allocator = new DeviceAllocator;
  return *allocator;
}

inline float* f(const Tensor& t) {
  return t.data<float>();
}
inline int* i32(const Tensor& t) {
  return t.data<int32_t>();
}
// A float16 or bfloat16 tensor's elements as their bits (null for an undefined tensor), and
// which of the two they are.
inline uint16_t* bits16(const Tensor& t) {
  return t.defined() ? static_cast<uint16_t*>(t.raw()) : nullptr;
}
inline NNLAB_KERNELS::Float16Kind float16_kind(const Tensor& t) {
  return t.dtype() == DType::F16 ? NNLAB_KERNELS::Float16Kind::Half : NNLAB_KERNELS::Float16Kind::BFloat16;
}

class EventStopwatch : public Stopwatch {
 public:
  explicit EventStopwatch(cudaStream_t stream) : stream_(stream) {
    NNLAB_CUDA_CHECK(cudaEventCreate(&start_));
    cudaError_t err = cudaEventCreate(&stop_);
    if (err != cudaSuccess) release(start_);  // a constructor that throws runs no destructor
    check(err, "cudaEventCreate(&stop_)", __FILE__, __LINE__);
  }
  ~EventStopwatch() override {
    release(start_);
    release(stop_);
  }
  void start() override { NNLAB_CUDA_CHECK(cudaEventRecord(start_, stream_)); }
  double stop_seconds() override {
    NNLAB_CUDA_CHECK(cudaEventRecord(stop_, stream_));
    NNLAB_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    NNLAB_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return double(ms) / 1000.0;
  }

 private:
  // Errors of a release are ignored (a destructor cannot act on them) and leave nothing behind.
  static void release(cudaEvent_t event) {
    if (cudaEventDestroy(event) != cudaSuccess) cudaGetLastError();
  }
  cudaStream_t stream_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

class CudaBackend : public Backend {
 public:
  std::string name() const override { return kName; }
  std::string device() const override {
#ifdef NNLAB_SIM
    return "CPU simulation of the CUDA execution model (not a GPU timing)";
#else
    int gpu = 0;  // the current GPU: a data-parallel rank's own (nnlab/distributed/world.h)
    NNLAB_CUDA_CHECK(cudaGetDevice(&gpu));
    cudaDeviceProp prop{};
    NNLAB_CUDA_CHECK(cudaGetDeviceProperties(&prop, gpu));
    return std::string(prop.name) + ", " + std::to_string(prop.multiProcessorCount) +
           " SMs, compute capability " + std::to_string(prop.major) + "." +
           std::to_string(prop.minor);
#endif
  }
  bool is_gpu() const override {
#ifdef NNLAB_SIM
    return false;
#else
    return true;
#endif
  }
  // Every op of the table in float32 (the class would be abstract otherwise); fills of int32;
  // in float16 and bfloat16 every op but those of the float32 master weights. The 16-bit
  // kernels: the GEMM (tensor cores for float16), the convolutions, the elementwise ops,
  // pooling, batch norm, the bias-gradient sums and the casts; the others (the ops autocast
  // keeps in float32, argmax, expand_scalar, the fills and dropout) run their float32 kernels
  // on widened copies (Widened below).
  bool supports(Op op, DType dtype) const override {
    return dtype == DType::F32 || (op == Op::Fill && dtype == DType::I32) ||
           (is_reduced_float(dtype) && !is_master_weight_op(op));
  }
  Allocator& allocator() override {
    return device_allocator();
  }
  // Every object made here is released by a member's destructor, so a constructor failing
  // part-way leaks nothing either.
  CudaBackend() {
#ifdef NNLAB_SIM
    NNLAB_CUDA_CHECK(cudaStreamCreate(&own_stream_.stream));
    stream_ = own_stream_.stream;
#else
    // One compute stream per process: NNLAB_LAUNCH launches every kernel on it, so `cuda` and
    // `cudnn` (which reuses these kernels) share it and their work stays in order. It lives as
    // long as the process.
    if (!current_stream()) NNLAB_CUDA_CHECK(cudaStreamCreate(&current_stream()));
    stream_ = current_stream();
#endif
    for (Staging& s : staging_) NNLAB_CUDA_CHECK(cudaEventCreate(&s.copied));
  }
  // Large uploads (batches) go through two page-locked staging buffers: the host copies into
  // one and queues an asynchronous copy on the stream, then returns without waiting for the
  // device; a buffer is reused only after its event says its copy has finished. (From
  // pageable memory, the runtime would first wait for the stream, on every batch.) Small
  // uploads are copied directly: the runtime stages them before returning, and so are large
  // ones when no page-locked memory is to be had.
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    Staging* s = bytes < kStagedBytes ? nullptr : &staging_[next_staging_];
    if (s) {
      next_staging_ = 1 - next_staging_;
      if (s->pending) NNLAB_CUDA_CHECK(cudaEventSynchronize(s->copied));
      s->pending = false;
      if (s->capacity < bytes && !s->grow(bytes)) s = nullptr;
    }
    if (!s) {
      if (bytes)
        NNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
      return;
    }
    std::memcpy(s->host, src, bytes);
    NNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, s->host, bytes, cudaMemcpyHostToDevice, stream_));
    NNLAB_CUDA_CHECK(cudaEventRecord(s->copied, stream_));
    s->pending = true;
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    NNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    NNLAB_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller reads `dst` next
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes)
      NNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
  }
  void synchronize() override {
    NNLAB_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  // Device time between two events on the compute stream: what the kernels took, without
  // the host's launch overhead (which a profile's phase times, taken on the host, include).
  std::unique_ptr<Stopwatch> make_stopwatch() override { return std::make_unique<EventStopwatch>(stream_); }

  void gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta,
            const Tensor& c) override {
    int64_t k = ta ? a.dim(0) : a.dim(1);
    if (is_reduced_float(c.dtype())) {
      NNLAB_KERNELS::gemm_16(float16_kind(c), ta, tb, c.dim(0), c.dim(1), k, float(alpha), bits16(a),
                             bits16(b), float(beta), bits16(c));
      return;
    }
    NNLAB_KERNELS::gemm(ta, tb, c.dim(0), c.dim(1), k, float(alpha), f(a), f(b), float(beta), f(c));
  }
  void bias_add(const Tensor& y, const Tensor& bias) override {
    if (is_reduced_float(y.dtype()))
      return NNLAB_KERNELS::bias_add_16(float16_kind(y), bits16(y), bits16(bias), y.dim(0), y.dim(1));
    NNLAB_KERNELS::bias_add(f(y), f(bias), y.dim(0), y.dim(1));
  }
  void sum_dim0(const Tensor& x, const Tensor& out) override {
    if (is_reduced_float(x.dtype()))
      return NNLAB_KERNELS::sum_dim0_16(float16_kind(x), bits16(x), x.dim(0), x.dim(1), bits16(out));
    NNLAB_KERNELS::sum_dim0(f(x), x.dim(0), x.dim(1), f(out));
  }
  void add(const Tensor& a, const Tensor& b, const Tensor& out) override {
    if (is_reduced_float(out.dtype()))
      return NNLAB_KERNELS::add_16(float16_kind(out), bits16(a), bits16(b), bits16(out), a.numel());
    NNLAB_KERNELS::add(f(a), f(b), f(out), a.numel());
  }
  void mul(const Tensor& a, const Tensor& b, const Tensor& out) override {
    if (is_reduced_float(out.dtype()))
      return NNLAB_KERNELS::mul_16(float16_kind(out), bits16(a), bits16(b), bits16(out), a.numel());
    NNLAB_KERNELS::mul(f(a), f(b), f(out), a.numel());
  }
  void scale(const Tensor& x, double alpha, const Tensor& out) override {
    if (is_reduced_float(out.dtype()))
      return NNLAB_KERNELS::scale_16(float16_kind(out), bits16(x), float(alpha), bits16(out), x.numel());
    NNLAB_KERNELS::scale(f(x), float(alpha), f(out), x.numel());
  }
  void expand_scalar(const Tensor& scalar, double alpha, const Tensor& out) override {
    Widened w(*this, {scalar}, {out});
    NNLAB_KERNELS::expand_scalar(f(w[0]), float(alpha), f(w[1]), out.numel());
    w.store();
  }
  void relu_forward(const Tensor& x, const Tensor& y) override {
    if (is_reduced_float(y.dtype()))
      return NNLAB_KERNELS::relu_forward_16(float16_kind(y), bits16(x), bits16(y), x.numel());
    NNLAB_KERNELS::relu_forward(f(x), f(y), x.numel());
  }
  void relu_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override {
    if (is_reduced_float(dx.dtype()))
      return NNLAB_KERNELS::relu_backward_16(float16_kind(dx), bits16(dy), bits16(y), bits16(dx), dy.numel());
    NNLAB_KERNELS::relu_backward(f(dy), f(y), f(dx), dy.numel());
  }
  void sum(const Tensor& x, const Tensor& out) override {
    Widened w(*this, {x}, {out});
    Tensor partials = Tensor::empty(Shape{reduce_partials(int(x.numel()))}, DType::F32, *this);
    NNLAB_KERNELS::sum(f(w[0]), int(x.numel()), f(partials), f(w[1]));
    w.store();
  }
  void log_softmax_forward(const Tensor& x, const Tensor& y) override {
    Widened w(*this, {x}, {y});
    NNLAB_KERNELS::log_softmax_forward(f(w[0]), f(w[1]), x.dim(0), x.dim(1));
    w.store();
  }
  void log_softmax_backward(const Tensor& dy, const Tensor& y, const Tensor& dx) override {
    Widened w(*this, {dy, y}, {dx});
    NNLAB_KERNELS::log_softmax_backward(f(w[0]), f(w[1]), f(w[2]), dy.dim(0), dy.dim(1));
    w.store();
  }
  void nll_loss_forward(const Tensor& logp, const Tensor& labels, const Tensor& out) override {
    int64_t rows = logp.dim(0);
    Widened w(*this, {logp}, {out});
    Tensor scratch = Tensor::empty(Shape{rows + reduce_partials(int(rows))}, DType::F32, *this);
    NNLAB_KERNELS::nll_loss_forward(f(w[0]), i32(labels), rows, logp.dim(1), f(scratch), f(w[1]));
    w.store();
  }
  void nll_loss_backward(const Tensor& dout, const Tensor& labels, const Tensor& dlogp) override {
    Widened w(*this, {dout}, {dlogp});
    NNLAB_KERNELS::nll_loss_backward(f(w[0]), i32(labels), f(w[1]), dlogp.dim(0), dlogp.dim(1));
    w.store();
  }
  void cross_entropy_backward(const Tensor& dout, const Tensor& logp, const Tensor& labels,
                              const Tensor& dlogits) override {
    Widened w(*this, {dout, logp}, {dlogits});
    NNLAB_KERNELS::cross_entropy_backward(f(w[0]), f(w[1]), i32(labels), f(w[2]), logp.dim(0),
                                          logp.dim(1));
    w.store();
  }
  void argmax(const Tensor& x, const Tensor& out) override {
    Widened w(*this, {x}, {});
    NNLAB_KERNELS::argmax(f(w[0]), i32(out), x.dim(0), x.dim(1));
  }
  void fill(const Tensor& t, double value) override {
    if (t.dtype() == DType::I32) return NNLAB_KERNELS::fill_int(i32(t), int(value), t.numel());
    Widened w(*this, {}, {t});
    NNLAB_KERNELS::fill(f(w[0]), float(value), t.numel());
    w.store();
  }
  void fill_uniform(const Tensor& t, double low, double high, uint64_t seed,
                    uint64_t offset) override {
    Widened w(*this, {}, {t});
    NNLAB_KERNELS::fill_uniform(f(w[0]), t.numel(), low, high, seed, offset);
    w.store();
  }
  void fill_normal(const Tensor& t, double mean, double std, uint64_t seed,
                   uint64_t offset) override {
    Widened w(*this, {}, {t});
    NNLAB_KERNELS::fill_normal(f(w[0]), t.numel(), mean, std, seed, offset);
    w.store();
  }
  void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& buf, const SgdParams& p,
                  bool first_step) override {
    NNLAB_KERNELS::sgd_update(f(param), f(grad), f(buf), param.numel(), p.lr, p.momentum,
                              p.dampening, p.weight_decay, p.nesterov, first_step);
  }
  void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                   const AdamParams& p, int64_t step) override {
    NNLAB_KERNELS::adam_update(f(param), f(grad), f(m), f(v), param.numel(), p.lr, p.beta1, p.beta2,
                               p.eps, p.weight_decay, step);
  }

  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                      const Window2d& win) override {
    ConvShape g = conv_shape(x, w, y, win);
    Tensor col = unrolled(g, y.dtype());
    if (is_reduced_float(y.dtype()))
      return NNLAB_KERNELS::conv2d_forward_16(float16_kind(y), bits16(x), bits16(w), bits16(bias), bits16(y), g,
                                              bits16(col));
    NNLAB_KERNELS::conv2d_forward(f(x), f(w), bias.defined() ? f(bias) : nullptr, f(y), g, f(col));
  }
  void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                            const Window2d& win) override {
    ConvShape g = conv_shape(dx, w, dy, win);
    Tensor col = unrolled(g, dx.dtype());
    if (is_reduced_float(dx.dtype()))
      return NNLAB_KERNELS::conv2d_backward_data_16(float16_kind(dx), bits16(dy), bits16(w), bits16(dx), g,
                                                    bits16(col));
    NNLAB_KERNELS::conv2d_backward_data(f(dy), f(w), f(dx), g, f(col));
  }
  void conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Tensor& dw,
                              const Window2d& win) override {
    ConvShape g = conv_shape(x, dw, dy, win);
    Tensor col = unrolled(g, dw.dtype());
    if (is_reduced_float(dw.dtype())) {
      Tensor dw_sum = Tensor::empty(dw.shape(), DType::F32, *this);
      return NNLAB_KERNELS::conv2d_backward_filter_16(float16_kind(dw), bits16(dy), bits16(x), bits16(dw), g,
                                                      bits16(col), f(dw_sum));
    }
    NNLAB_KERNELS::conv2d_backward_filter(f(dy), f(x), f(dw), g, f(col));
  }
  void channel_sum(const Tensor& x, const Tensor& out) override {
    int64_t n = x.dim(0), c = x.dim(1), plane = n * c > 0 ? x.numel() / (n * c) : 0;
    if (is_reduced_float(x.dtype()))
      return NNLAB_KERNELS::channel_sum_16(float16_kind(x), bits16(x), n, c, plane, bits16(out));
    NNLAB_KERNELS::channel_sum(f(x), n, c, plane, f(out));
  }
  void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices,
                          const Window2d& win) override {
    if (is_reduced_float(x.dtype()))
      return NNLAB_KERNELS::max_pool2d_forward_16(float16_kind(x), bits16(x), bits16(y), i32(indices),
                                                  pool_shape(x, y, win));
    NNLAB_KERNELS::max_pool2d_forward(f(x), f(y), i32(indices), pool_shape(x, y, win));
  }
  void max_pool2d_backward(const Tensor& dy, const Tensor& indices, const Tensor& dx,
                           const Window2d& win) override {
    if (is_reduced_float(dy.dtype()))
      return NNLAB_KERNELS::max_pool2d_backward_16(float16_kind(dy), bits16(dy), i32(indices), bits16(dx),
                                                   pool_shape(dx, dy, win));
    NNLAB_KERNELS::max_pool2d_backward(f(dy), i32(indices), f(dx), pool_shape(dx, dy, win));
  }
  void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Window2d& win) override {
    if (is_reduced_float(x.dtype()))
      return NNLAB_KERNELS::avg_pool2d_forward_16(float16_kind(x), bits16(x), bits16(y), pool_shape(x, y, win));
    NNLAB_KERNELS::avg_pool2d_forward(f(x), f(y), pool_shape(x, y, win));
  }
  void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Window2d& win) override {
    if (is_reduced_float(dy.dtype()))
      return NNLAB_KERNELS::avg_pool2d_backward_16(float16_kind(dy), bits16(dy), bits16(dx),
                                                   pool_shape(dx, dy, win));
    NNLAB_KERNELS::avg_pool2d_backward(f(dy), f(dx), pool_shape(dx, dy, win));
  }
  // A 16-bit x comes with float32 per-channel tensors (ops.def).
  void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          const Tensor& running_mean, const Tensor& running_var, bool training,
                          double momentum, double eps, const Tensor& y, const Tensor& save_mean,
                          const Tensor& save_invstd) override {
    if (is_reduced_float(x.dtype()))
      return NNLAB_KERNELS::batch_norm_forward_16(float16_kind(x), bits16(x), f(weight), f(bias), f(running_mean),
                                                  f(running_var), training, momentum, eps, bits16(y), f(save_mean),
                                                  f(save_invstd), x.dim(0), x.dim(1), x.dim(2) * x.dim(3));
    NNLAB_KERNELS::batch_norm_forward(f(x), f(weight), f(bias), f(running_mean), f(running_var),
                                      training, momentum, eps, f(y), f(save_mean), f(save_invstd),
                                      x.dim(0), x.dim(1), x.dim(2) * x.dim(3));
  }
  void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                           const Tensor& save_mean, const Tensor& save_invstd,
                           bool batch_statistics, double /*eps: in save_invstd*/, const Tensor& dx,
                           const Tensor& dweight, const Tensor& dbias) override {
    if (is_reduced_float(x.dtype()))
      return NNLAB_KERNELS::batch_norm_backward_16(float16_kind(x), bits16(dy), bits16(x), f(weight), f(save_mean),
                                                   f(save_invstd), batch_statistics, bits16(dx), f(dweight),
                                                   f(dbias), x.dim(0), x.dim(1), x.dim(2) * x.dim(3));
    NNLAB_KERNELS::batch_norm_backward(f(dy), f(x), f(weight), f(save_mean), f(save_invstd),
                                       batch_statistics, f(dx), f(dweight), f(dbias), x.dim(0),
                                       x.dim(1), x.dim(2) * x.dim(3));
  }
  void dropout_mask(const Tensor& mask, double p, uint64_t seed, uint64_t offset) override {
    Widened w(*this, {}, {mask});
    NNLAB_KERNELS::dropout_mask(f(w[0]), mask.numel(), p, seed, offset);
    w.store();
  }
  // Between float32 and float16 or bfloat16, or float32 to float32 (a copy).
  void cast(const Tensor& x, const Tensor& out) override {
    if (is_reduced_float(out.dtype()))
      NNLAB_KERNELS::cast_to_16(f(x), bits16(out), x.numel(), float16_kind(out));
    else if (is_reduced_float(x.dtype()))
      NNLAB_KERNELS::cast_from_16(bits16(x), f(out), x.numel(), float16_kind(x));
    else
      copy(out.raw(), x.raw(), x.bytes());
  }
  void amp_unscale(const Tensor& grad, double inv_scale, const Tensor& found_inf) override {
    NNLAB_KERNELS::amp_unscale(f(grad), grad.numel(), float(inv_scale), f(found_inf));
  }

 protected:
  cudaStream_t stream() const { return stream_; }
  static ConvShape conv_shape(const Tensor& x, const Tensor& w, const Tensor& y,
                              const Window2d& win) {
    return {x.dim(0),     x.dim(1),  x.dim(2),  x.dim(3),       w.dim(0),
            w.dim(2),     w.dim(3),  y.dim(2),  y.dim(3),       win.stride_h,
            win.stride_w, win.pad_h, win.pad_w, win.dilation_h, win.dilation_w};
  }
  static PoolShape pool_shape(const Tensor& in, const Tensor& out, const Window2d& win) {
    return {in.dim(0) * in.dim(1), in.dim(2),    in.dim(3),    out.dim(2), out.dim(3), win.kernel_h,
            win.kernel_w,          win.stride_h, win.stride_w, win.pad_h,  win.pad_w};
  }
  // One image's unrolled receptive fields, from the caching allocator.
  Tensor unrolled(const ConvShape& g, DType dtype) {
    return Tensor::empty(Shape{g.c * g.r * g.s * g.p * g.q}, dtype, *this);
  }

  // The 16-bit path of the ops without 16-bit kernels (autocast runs most of them in float32;
  // they meet 16-bit tensors in a direct call, and argmax, expand_scalar and dropout in a
  // 16-bit model): their float32 kernel on float32 copies. Each 16-bit input is widened
  // (exactly) into a float32 temporary; each 16-bit output gets a float32 temporary that
  // store() rounds into it -- float32 arithmetic and one rounding to 16 bits (reference
  // computes some of these ops in double: the last bit may differ), at the cost of a cast
  // kernel and a float32 copy per 16-bit tensor. Float32 (and int32) tensors pass through as
  // themselves, so the float32 path is unchanged. w[i] is the i-th tensor, inputs first.
  class Widened {
   public:
    Widened(CudaBackend& backend, std::initializer_list<Tensor> inputs, std::initializer_list<Tensor> outputs)
        : backend_(backend), inputs_(inputs.size()) {
      for (const Tensor& t : inputs) wide_.push_back(is_reduced_float(t.dtype()) ? backend.widened_copy(t) : t);
      for (const Tensor& t : outputs) {
        outputs_.push_back(t);
        wide_.push_back(is_reduced_float(t.dtype()) ? Tensor::empty(t.shape(), DType::F32, backend) : t);
      }
    }
    const Tensor& operator[](size_t i) const { return wide_[i]; }
    void store() {
      for (size_t i = 0; i < outputs_.size(); ++i)
        if (is_reduced_float(outputs_[i].dtype())) backend_.cast(wide_[inputs_ + i], outputs_[i]);
    }

   private:
    CudaBackend& backend_;
    size_t inputs_;
    std::vector<Tensor> outputs_, wide_;
  };
  Tensor widened_copy(const Tensor& t) {
    Tensor wide = Tensor::empty(t.shape(), DType::F32, *this);
    cast(t, wide);
    return wide;
  }

 private:
  static constexpr size_t kStagedBytes = 64 * 1024;
  // A destructor releases what a runtime call made and ignores the errors of doing so: they
  // cannot be acted on, and it must not throw. (It leaves no error behind for the next launch.)
  template <typename Handle>
  static void release(cudaError_t (*destroy)(Handle), Handle handle) {
    if (handle && destroy(handle) != cudaSuccess) cudaGetLastError();
  }
  struct Staging {
    void* host = nullptr;  // page-locked (cudaMallocHost)
    size_t capacity = 0;
    cudaEvent_t copied = nullptr;
    bool pending = false;
    Staging() = default;
    Staging(const Staging&) = delete;
    Staging& operator=(const Staging&) = delete;
    ~Staging() {
      if (pending && cudaEventSynchronize(copied) != cudaSuccess) cudaGetLastError();
      release(cudaFreeHost, host);
      release(cudaEventDestroy, copied);
    }
    // A page-locked buffer of `bytes` in place of the old one; false (and no buffer) when
    // page-locked memory is exhausted, which only makes uploads slower.
    bool grow(size_t bytes) {
      void* old = host;
      host = nullptr;
      capacity = 0;
      if (old) NNLAB_CUDA_CHECK(cudaFreeHost(old));
      void* fresh = nullptr;
      cudaError_t err = cudaMallocHost(&fresh, bytes);
      if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // not sticky, and handled here
        return false;
      }
      check(err, "cudaMallocHost(&fresh, bytes)", __FILE__, __LINE__);
      host = fresh;
      capacity = bytes;
      return true;
    }
  };
  struct OwnedStream {  // the simulator's backends each make their own
    cudaStream_t stream = nullptr;
    OwnedStream() = default;
    OwnedStream(const OwnedStream&) = delete;
    OwnedStream& operator=(const OwnedStream&) = delete;
    ~OwnedStream() { release(cudaStreamDestroy, stream); }
  };

  OwnedStream own_stream_;  // declared before the staging buffers: destroyed after them
  cudaStream_t stream_ = nullptr;
  Staging staging_[2];
  int next_staging_ = 0;
};

}  // namespace nnlab::NNLAB_KERNELS
