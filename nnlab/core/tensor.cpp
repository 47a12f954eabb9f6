#include "nnlab/core/tensor.h"

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "nnlab/core/allocator.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/backend.h"
#include "nnlab/core/profiler.h"

namespace nnlab {
namespace {
template <typename To, typename From>
std::vector<To> widened(const std::vector<From>& values) {
  std::vector<To> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = To(values[i]);
  return out;
}
}  // namespace

Storage::Storage(Backend* b, size_t n) : backend(b), data(nullptr), bytes(n) {
  data = backend->allocator().allocate(bytes);
}
Storage::~Storage() {
  backend->allocator().deallocate(data, bytes);
}

TensorImpl& Tensor::impl() const {
  if (!impl_) throw std::logic_error("use of an undefined Tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Backend& backend) {
  auto impl = std::make_shared<TensorImpl>();
  try {
    impl->storage = std::make_shared<Storage>(&backend, size_t(shape.numel()) * dtype_size(dtype));
  } catch (const HostOutOfMemory& e) {  // here the shape is known: a batch size shows in it
    throw e.naming(std::string("a ") + dtype_name(dtype) + " tensor " + shape.str());
  }
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Backend& backend) {
  Tensor t = empty(shape, dtype, backend);
  OpScope op_scope(backend, Op::Fill, dtype);
  backend.fill(t, value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Backend& backend) {
  return full(shape, 0.0, dtype, backend);
}

template <typename T>
Tensor Tensor::from_host(const std::vector<T>& values, const Shape& shape, Backend& backend) {
  if (int64_t(values.size()) != shape.numel())
    throw std::invalid_argument("from_host: " + std::to_string(values.size()) +
                                " values for shape " + shape.str());
  Tensor t = empty(shape, dtype_of<T>(), backend);
  backend.copy_from_host(t.raw(), values.data(), t.bytes());
  return t;
}
template Tensor Tensor::from_host(const std::vector<float>&, const Shape&, Backend&);
template Tensor Tensor::from_host(const std::vector<double>&, const Shape&, Backend&);
template Tensor Tensor::from_host(const std::vector<int32_t>&, const Shape&, Backend&);
template Tensor Tensor::from_host(const std::vector<Half>&, const Shape&, Backend&);
template Tensor Tensor::from_host(const std::vector<BFloat16>&, const Shape&, Backend&);

void* Tensor::raw() const {
  return static_cast<char*>(impl().storage->data) + impl().offset * dtype_size(dtype());
}

template <typename T>
T* Tensor::data() const {
  if (dtype_of<T>() != dtype())
    throw std::logic_error(std::string("Tensor::data<") + dtype_name(dtype_of<T>()) + "> on a " +
                           dtype_name(dtype()) + " tensor");
  return static_cast<T*>(raw());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int32_t* Tensor::data<int32_t>() const;
template Half* Tensor::data<Half>() const;
template BFloat16* Tensor::data<BFloat16>() const;

template <typename T>
std::vector<T> Tensor::to_host() const {
  if (dtype_of<T>() != dtype())
    throw std::logic_error(std::string("to_host<") + dtype_name(dtype_of<T>()) + "> on a " +
                           dtype_name(dtype()) + " tensor");
  std::vector<T> out(static_cast<size_t>(numel()));
  backend().copy_to_host(out.data(), raw(), bytes());
  return out;
}
template std::vector<float> Tensor::to_host() const;
template std::vector<double> Tensor::to_host() const;
template std::vector<int32_t> Tensor::to_host() const;
template std::vector<Half> Tensor::to_host() const;
template std::vector<BFloat16> Tensor::to_host() const;

std::vector<double> Tensor::to_host_doubles() const {
  switch (dtype()) {
    case DType::F32:
      return widened<double>(to_host<float>());
    case DType::F64:
      return to_host<double>();
    case DType::I32:
      return widened<double>(to_host<int32_t>());
    case DType::F16:
      return widened<double>(to_host<Half>());
    case DType::BF16:
      return widened<double>(to_host<BFloat16>());
  }
  return {};
}

double Tensor::item() const {
  if (numel() != 1) throw std::invalid_argument("item() on a tensor of shape " + shape().str());
  return to_host_doubles()[0];
}

Tensor Tensor::to(Backend& target) const {
  Tensor out = empty(shape(), dtype(), target);
  out.copy_from(*this);
  return out;
}

void Tensor::copy_from(const Tensor& src) const {
  check_shape(src, shape(), "copy_from", "source");
  check_dtype(src, dtype(), "copy_from", "source");
  if (&src.backend() == &backend()) {
    backend().copy(raw(), src.raw(), bytes());
  } else {  // through the host: backends only know their own memory and the host's
    std::vector<char> staging(bytes());
    src.backend().copy_to_host(staging.data(), src.raw(), bytes());
    backend().copy_from_host(raw(), staging.data(), bytes());
  }
}

Tensor Tensor::clone() const {
  return to(backend());
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_ptr()->storage;
  impl->offset = impl_ptr()->offset;
  impl->shape = shape();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  if (new_shape.numel() != numel())
    throw std::invalid_argument("reshape: cannot view " + shape().str() + " (" +
                                std::to_string(numel()) + " elements) as " + new_shape.str());
  Tensor view = detach();
  view.impl().shape = new_shape;
  Shape old_shape = shape();
  return record(view, "reshape", {*this},
                [old_shape](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& grads) {
                  grads[0] = g.reshape(old_shape);
                });
}

Tensor Tensor::flatten() const {
  if (rank() < 1) throw std::invalid_argument("flatten: a scalar has no batch dimension");
  return reshape(Shape{dim(0), dim(0) == 0 ? 0 : numel() / dim(0)});
}

Tensor& Tensor::set_requires_grad(bool on) {
  if (on && !is_floating(dtype()))
    throw std::invalid_argument(std::string("requires_grad on a ") + dtype_name(dtype()) +
                                " tensor: only floating tensors have gradients");
  if (grad_fn()) throw std::logic_error("set_requires_grad on a non-leaf tensor");
  impl().requires_grad = on;
  return *this;
}

void Tensor::backward() const {
  run_backward(*this);
}

std::string Tensor::str(int64_t max_elements) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor" << shape().str() << " " << dtype_name(dtype()) << " " << backend().name() << " {";
  int64_t n = std::min<int64_t>(numel(), max_elements);
  std::vector<double> values = to_host_doubles();  // exact for every dtype
  for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << values[size_t(i)];
  if (numel() > n) os << ", ... (" << numel() << " elements)";
  os << "}";
  return os.str();
}

void check_shape(const Tensor& t, const Shape& expected, const char* op, const char* what) {
  if (t.shape() != expected)
    throw std::invalid_argument(std::string(op) + ": " + what + " has shape " + t.shape().str() +
                                ", expected " + expected.str());
}

void check_dtype(const Tensor& t, DType expected, const char* op, const char* what) {
  if (t.dtype() != expected)
    throw std::invalid_argument(std::string(op) + ": " + what + " is " + dtype_name(t.dtype()) +
                                ", expected " + dtype_name(expected));
}

void check_same_backend(const Tensor& a, const Tensor& b, const char* op) {
  if (&a.backend() != &b.backend())
    throw std::invalid_argument(std::string(op) + ": tensors on different backends (" +
                                a.backend().name() + " and " + b.backend().name() + ")");
}

}  // namespace nnlab
