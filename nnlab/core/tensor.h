// Tensor: a shared handle to contiguous, row-major storage owned by one backend, plus the
// autograd state (requires_grad, grad, and the node that produced it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nnlab/core/dtype.h"
#include "nnlab/core/shape.h"

namespace nnlab {

class Backend;
struct Node;

// Memory owned by one backend; returned to that backend's allocator when the last view dies.
struct Storage {
  Storage(Backend* backend, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  Backend* backend;
  void* data;
  size_t bytes;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor (non-leaf)
  // A leaf's hook, run once per backward pass after its last gradient contribution has been
  // accumulated (set_grad_ready_hook in nnlab/core/autograd.h).
  std::function<void()> grad_ready_hook;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  static Tensor empty(const Shape& shape, DType dtype, Backend& backend);
  static Tensor zeros(const Shape& shape, DType dtype, Backend& backend);
  static Tensor full(const Shape& shape, double value, DType dtype, Backend& backend);
  template <typename T>
  static Tensor from_host(const std::vector<T>& values, const Shape& shape, Backend& backend);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t dim(size_t i) const { return impl().shape[i]; }
  size_t rank() const { return impl().shape.rank(); }
  int64_t numel() const { return impl().shape.numel(); }
  DType dtype() const { return impl().dtype; }
  Backend& backend() const { return *impl().storage->backend; }
  size_t bytes() const { return size_t(numel()) * dtype_size(dtype()); }

  // Raw element pointer in the backend's memory (a device pointer on GPU backends).
  void* raw() const;
  template <typename T>
  T* data() const;

  template <typename T>
  std::vector<T> to_host() const;
  std::vector<double> to_host_doubles() const;  // the values of any dtype, exactly, as double
  double item() const;                          // the value of a one-element tensor, as double
  Tensor to(Backend& backend) const;  // a copy on another backend (no autograd history)
  Tensor clone() const;               // a copy on the same backend (no autograd history)
  // Overwrites this tensor's values with src's (same shape and dtype, any two backends).
  void copy_from(const Tensor& src) const;

  // Views share storage; as views of an autograd op they carry the history.
  Tensor reshape(const Shape& shape) const;
  Tensor flatten() const;  // [N, ...] -> [N, rest]

  // Autograd.
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool on);
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& g) const { impl().grad = g.impl_; }
  Node* grad_fn() const { return impl().grad_fn.get(); }
  void backward() const;  // from a one-element tensor: d(this)/d(leaf) into each leaf's grad
  Tensor detach() const;  // same storage, no history

  std::string str(int64_t max_elements = 8) const;  // "Tensor[2, 3] float32 cpu {…}"
  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_storage(const Tensor& o) const { return impl().storage == o.impl().storage; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Throws std::invalid_argument naming `op` when a tensor's shape or dtype is not what it needs.
void check_shape(const Tensor& t, const Shape& expected, const char* op, const char* what);
void check_dtype(const Tensor& t, DType expected, const char* op, const char* what);
void check_same_backend(const Tensor& a, const Tensor& b, const char* op);

}  // namespace nnlab
