#include "nnlab/distributed/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "nnlab/core/autograd.h"
#include "nnlab/core/backend.h"
#include "nnlab/distributed/world.h"

namespace nnlab::distributed {
namespace {
// A view of `count` elements of a flat tensor from `offset`, shaped as `shape`.
Tensor slice(const Tensor& flat, size_t offset, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = flat.impl().storage;
  impl->offset = flat.impl().offset + offset;
  impl->shape = shape;
  impl->dtype = flat.dtype();
  return Tensor(std::move(impl));
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::vector<std::vector<size_t>> plan_buckets(const std::vector<size_t>& order,
                                              const std::vector<size_t>& bytes, size_t cap_bytes) {
  std::vector<std::vector<size_t>> buckets;
  size_t filled = 0;
  for (size_t p : order) {
    if (buckets.empty() || (filled > 0 && filled + bytes[p] > cap_bytes)) {
      buckets.emplace_back();
      filled = 0;
    }
    buckets.back().push_back(p);
    filled += bytes[p];
  }
  return buckets;
}

DataParallel::DataParallel(nn::Module& model, Communicator& comm, DataParallelOptions options)
    : model_(model), comm_(comm), options_(options), params_(model.parameters()) {
  if (params_.empty()) throw std::invalid_argument("DataParallel: the model has no parameters");
  for (const Tensor& p : params_) {
    check_dtype(p, DType::F32, "DataParallel", "parameter");
    comm_.broadcast(p, 0);
  }
  broadcast_buffers();
  std::vector<size_t> reverse(params_.size());
  std::iota(reverse.rbegin(), reverse.rend(), size_t(0));
  build_buckets(reverse);
  for (size_t i = 0; i < params_.size(); ++i)
    set_grad_ready_hook(params_[i], [this, i] { on_grad_ready(i); });
}

DataParallel::~DataParallel() {
  for (const Tensor& p : params_) set_grad_ready_hook(p, nullptr);
  // Only an exception leaves a reduction in flight, and then the job is being aborted:
  // waiting could hang on the rank that failed, so the reduction (and the bucket it writes
  // into) is left alive instead.
  for (Bucket& b : buckets_)
    if (b.reduce && !b.done) (void)b.reduce.release();
}

void DataParallel::broadcast_buffers() {
  for (const auto& [name, t] : model_.named_buffers()) comm_.broadcast(t, 0);
}

void DataParallel::build_buckets(const std::vector<size_t>& order) {
  std::vector<size_t> bytes(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) bytes[i] = params_[i].bytes();
  buckets_.clear();
  bucket_of_.assign(params_.size(), 0);
  offset_of_.assign(params_.size(), 0);
  Backend& backend = params_.front().backend();
  int64_t total = 0;
  for (auto& params : plan_buckets(order, bytes, options_.bucket_bytes)) {
    Bucket b;
    size_t elements = 0;
    for (size_t p : params) {
      bucket_of_[p] = buckets_.size();
      offset_of_[p] = elements;
      elements += size_t(params_[p].numel());
    }
    b.params = std::move(params);
    b.buffer = Tensor::empty(Shape{int64_t(elements)}, DType::F32, backend);
    total += int64_t(elements) * 4;
    buckets_.push_back(std::move(b));
  }
  stats_.buckets = int64_t(buckets_.size());
  stats_.bytes = total;
}

std::vector<std::vector<size_t>> DataParallel::bucket_layout() const {
  std::vector<std::vector<size_t>> layout;
  for (const Bucket& b : buckets_) layout.push_back(b.params);
  return layout;
}

double DataParallel::now() const {
  return steady_seconds() - step_origin_;
}

void DataParallel::pack(size_t param) {
  const Tensor& p = params_[param];
  Tensor g = p.grad();
  Bucket& b = buckets_[bucket_of_[param]];
  char* dst = static_cast<char*>(b.buffer.raw()) + offset_of_[param] * sizeof(float);
  p.backend().copy(dst, g.raw(), g.bytes());
}

void DataParallel::on_grad_ready(size_t param) {
  if (step_origin_ < 0) step_origin_ = steady_seconds();
  if (ready_order_.size() == params_.size())
    throw std::logic_error(
        "DataParallel: a second backward pass before finish_gradient_sync() "
        "(gradient accumulation across passes is not supported)");
  ready_order_.push_back(param);
  if (!options_.overlap) return;
  Bucket& b = buckets_[bucket_of_[param]];
  pack(param);
  if (++b.ready == b.params.size()) start_ready_buckets();
  test_in_flight();
}

void DataParallel::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() &&
         buckets_[next_to_start_].ready == buckets_[next_to_start_].params.size())
    start(buckets_[next_to_start_++]);
}

void DataParallel::start(Bucket& b) {
  b.started = true;
  b.started_at = now();
  b.reduce = comm_.all_reduce_sum(b.buffer);
}

void DataParallel::test_in_flight() {
  for (size_t i = 0; i < next_to_start_; ++i) {
    Bucket& b = buckets_[i];
    if (!b.done && b.reduce->test()) {
      b.done = true;
      b.done_at = now();
    }
  }
}

void DataParallel::finish_gradient_sync() {
  if (step_origin_ < 0) step_origin_ = steady_seconds();
  double backward_end = now();
  if (ready_order_.size() != params_.size()) {  // some hook did not run in this pass
    std::vector<bool> ready(params_.size(), false);
    for (size_t p : ready_order_) ready[p] = true;
    std::string names;
    auto named = model_.named_parameters();
    for (size_t i = 0; i < params_.size(); ++i)
      if (!ready[i]) names += (names.empty() ? "" : ", ") + named[i].first;
    // Reductions in flight are abandoned, not waited for (a rank may never join them: this
    // error ends the job in the apps); the next step starts afresh.
    for (Bucket& b : buckets_)
      if (b.reduce && !b.done) (void)b.reduce.release();
    reset_step();
    throw std::logic_error("DataParallel: no gradient reached " + names +
                           " in this backward pass; every parameter must contribute to the loss "
                           "on every rank");
  }
  int64_t started_in_backward = int64_t(next_to_start_);
  int64_t done_in_backward = 0;
  for (const Bucket& b : buckets_) done_in_backward += b.done;
  if (!options_.overlap) {
    for (size_t i = 0; i < params_.size(); ++i) pack(i);
    for (Bucket& b : buckets_) b.ready = b.params.size();
    start_ready_buckets();
  }
  if (next_to_start_ != buckets_.size())  // every hook ran, so every bucket is full
    throw std::logic_error(
        "DataParallel: a bucket was not started although every gradient is ready");
  for (Bucket& b : buckets_) {
    if (b.done) continue;
    b.reduce->wait();
    b.done = true;
    b.done_at = now();
  }
  // Every parameter gets a fresh gradient tensor (gradients may alias: see autograd.h).
  Backend& backend = params_.front().backend();
  double inverse = 1.0 / double(world().size);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    Tensor mean = Tensor::empty(p.shape(), DType::F32, backend);
    Tensor sum = slice(buckets_[bucket_of_[i]].buffer, offset_of_[i], p.shape());
    backend.scale(sum, inverse, mean);
    p.set_grad(mean);
  }
  // The time during which some reduction was in flight, merged over the buckets (they start
  // in order), and the part of it before backward ended.
  double in_flight = 0, during_backward = 0, span_start = 0, span_end = -1;
  auto close_span = [&] {
    if (span_end < span_start) return;
    in_flight += span_end - span_start;
    during_backward += std::max(0.0, std::min(span_end, backward_end) - span_start);
  };
  for (const Bucket& b : buckets_) {
    if (b.started_at > span_end) {
      close_span();
      span_start = b.started_at;
    }
    span_end = std::max(span_end, b.done_at);
  }
  close_span();
  stats_.steps += 1;
  stats_.in_flight_seconds += in_flight;
  stats_.during_backward_seconds += during_backward;
  stats_.finish_seconds += now() - backward_end;
  stats_.buckets_started_in_backward += options_.overlap ? started_in_backward : 0;
  stats_.buckets_done_in_backward += options_.overlap ? done_in_backward : 0;

  // From the second step on, buckets follow the order the gradients became ready in (the
  // same on every rank: the same graph runs everywhere).
  bool rebuild = !rebuilt_;
  std::vector<size_t> observed = ready_order_;
  reset_step();
  if (rebuild) {
    rebuilt_ = true;
    if (observed != bucket_order()) build_buckets(observed);
  }
}

void DataParallel::reset_step() {
  ready_order_.clear();
  for (Bucket& b : buckets_) {
    b.ready = 0;
    b.reduce.reset();
    b.started = b.done = false;
  }
  next_to_start_ = 0;
  step_origin_ = -1;
}

std::vector<size_t> DataParallel::bucket_order() const {
  std::vector<size_t> order;
  for (const Bucket& b : buckets_) order.insert(order.end(), b.params.begin(), b.params.end());
  return order;
}

void broadcast_optimizer_state(Communicator& comm, optim::Optimizer& optimizer) {
  const World& w = world();
  Backend& backend = optimizer.params().front().backend();
  auto state = optimizer.state();
  // Rank 0 describes its state (step count, then name, dtype and shape of each tensor); the
  // others make tensors to match, and each tensor is broadcast.
  std::string described;
  if (w.primary()) {
    std::ostringstream os;
    os << optimizer.steps() << " " << state.size() << "\n";
    for (const auto& [name, t] : state) {
      os << name << " " << int(t.dtype()) << " " << t.rank();
      for (size_t d = 0; d < t.rank(); ++d) os << " " << t.dim(d);
      os << "\n";
    }
    described = os.str();
  }
  broadcast(described, 0);
  std::istringstream is(described);
  int64_t steps = 0;
  size_t count = 0;
  is >> steps >> count;
  if (!w.primary()) {
    state.clear();
    for (size_t i = 0; i < count; ++i) {
      std::string name;
      int dtype = 0;
      size_t rank = 0;
      is >> name >> dtype >> rank;
      std::vector<int64_t> dims(rank);
      for (auto& d : dims) is >> d;
      state.emplace_back(name, Tensor::zeros(Shape(dims), DType(dtype), backend));
    }
  }
  for (const auto& [name, t] : state) comm.broadcast(t, 0);
  if (!w.primary()) optimizer.load_state(state, steps);
}

}  // namespace nnlab::distributed
