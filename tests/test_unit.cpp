// Unit tests of the core: tensors and views, allocator statistics, the registry, autograd
// mechanics, initialisation, modules and the optimizers' update rules.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "apps/common/flags.h"
#include "nnlab/backends/cudnn/gemm_args.h"
#include "nnlab/backends/reference/backend.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/autograd.h"
#include "nnlab/core/numerics.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/profiler.h"
#include "nnlab/models/mlp.h"
#include "nnlab/models/zoo.h"
#include "nnlab/nn/layers.h"
#include "nnlab/optim/optimizer.h"

using namespace nnlab;

TEST_CASE("tensor: host round trip, views and printing") {
  Backend& be = get_backend("cpu");
  Tensor t = Tensor::from_host(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3}, be);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.numel() == 6);
  CHECK(t.to_host<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor v = t.reshape(Shape{3, 2});
  CHECK(v.same_storage(t));
  CHECK(v.shape() == Shape{3, 2});
  Tensor f = Tensor::from_host(std::vector<float>(24, 1.f), Shape{2, 3, 4}, be).flatten();
  CHECK(f.shape() == Shape{2, 12});
  CHECK_THROWS_WITH_AS(t.reshape(Shape{4, 2}), doctest::Contains("cannot view [2, 3]"),
                       std::invalid_argument);
  CHECK(t.str() == "Tensor[2, 3] float32 cpu {1, 2, 3, 4, 5, 6}");
  CHECK(Tensor::from_host(std::vector<int32_t>(20, 7), Shape{20}, be).str(2) ==
        "Tensor[20] int32 cpu {7, 7, ... (20 elements)}");
  CHECK_THROWS_AS(t.to_host<double>(), std::logic_error);
  CHECK_THROWS_WITH_AS(Tensor::from_host(std::vector<float>{1, 2}, Shape{3}, be),
                       doctest::Contains("2 values for shape [3]"), std::invalid_argument);
  Tensor on_ref = t.to(get_backend("reference"));
  CHECK(on_ref.backend().name() == "reference");
  CHECK(on_ref.to_host<float>() == t.to_host<float>());
}

TEST_CASE("allocator: current and peak bytes follow tensor lifetimes") {
  Backend& be = get_backend("reference");
  size_t base = be.allocator().stats().current_bytes;
  be.allocator().reset_peak();
  {
    Tensor a = Tensor::empty(Shape{1000}, DType::F32, be);
    CHECK(be.allocator().stats().current_bytes == base + 4000);
    Tensor b = Tensor::empty(Shape{500}, DType::F64, be);
    CHECK(be.allocator().stats().current_bytes == base + 8000);
    Tensor view = b.reshape(Shape{10, 50});  // a view allocates nothing
    CHECK(be.allocator().stats().current_bytes == base + 8000);
  }
  CHECK(be.allocator().stats().current_bytes == base);
  CHECK(be.allocator().stats().peak_bytes == base + 8000);
}

TEST_CASE("allocator: freed blocks are reused by size and released by empty_cache") {
  HostAllocator alloc;
  void* a = alloc.allocate(1000);
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  alloc.deallocate(a, 1000);
  CHECK(alloc.stats().current_bytes == 0);
  CHECK(alloc.stats().cached_bytes == 1024);
  CHECK(alloc.allocate(1001) == a);  // the same rounded size reuses the block
  CHECK(alloc.stats().cached_bytes == 0);
  void* b = alloc.allocate(5000);
  CHECK(b != a);
  alloc.deallocate(a, 1001);
  alloc.deallocate(b, 5000);
  CHECK(alloc.stats().cached_bytes == 1024 + 5120);
  alloc.empty_cache();
  CHECK(alloc.stats().cached_bytes == 0);
  CHECK(alloc.stats().peak_bytes == 6001);
}

TEST_CASE("registry: names, availability and clear errors") {
  auto available = available_backends();
  CHECK(std::find(available.begin(), available.end(), "reference") != available.end());
  CHECK(std::find(available.begin(), available.end(), "cpu") != available.end());
  CHECK(&get_backend("cpu") == &get_backend("cpu"));
  CHECK_THROWS_WITH_AS(get_backend("tpu"),
                       doctest::Contains("unknown backend 'tpu'; available: reference, cpu"),
                       std::invalid_argument);
  CHECK(get_backend("cpu").device().find("Eigen") != std::string::npos);
  for (const auto& name : known_backends()) {  // the registry's GPU flag agrees with the backend
    CAPTURE(name);
    if (unavailable_reason(name).empty()) CHECK(runs_on_gpu(name) == get_backend(name).is_gpu());
  }
  std::string known;
  for (const auto& name : known_backends()) known += (known.empty() ? "" : ", ") + name;
  CHECK_THROWS_WITH_AS(runs_on_gpu("tpu"), ("unknown backend 'tpu'; known: " + known).c_str(),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(require_op(get_backend("cpu"), Op::Gemm, DType::I32),
                       doctest::Contains("backend 'cpu' does not support op gemm for dtype int32"),
                       std::runtime_error);
}

TEST_CASE("apps: --help lists every backend and model from the registry's and the zoo's table") {
  CLI::App app("test", "test");
  apps::ExperimentConfig config;
  apps::add_backend_flag(app, config);
  apps::add_recipe_flags(app, config);
  std::string help = app.help();
  std::string backends, models;
  for (const auto& name : known_backends()) backends += (backends.empty() ? "" : " | ") + name;
  for (const auto& name : models::model_names()) models += (models.empty() ? "" : " | ") + name;
  CHECK(help.find(backends) != std::string::npos);
  CHECK(help.find(models) != std::string::npos);
  CHECK(help.find("cudnn") != std::string::npos);  // once left out of train's --backend
}

TEST_CASE("cpu backend: thread count is settable and reported") {
  Backend& be = get_backend("cpu");
  int before = be.threads();
  be.set_threads(1);
  CHECK(be.threads() == 1);
  CHECK(be.device().find("1 thread") != std::string::npos);
  CHECK_THROWS_AS(be.set_threads(0), std::invalid_argument);
  be.set_threads(before);
}

TEST_CASE("autograd: accumulation, shared inputs, no_grad and errors") {
  Backend& be = get_backend("reference");
  Tensor x = Tensor::from_host(std::vector<double>{1, -2, 3}, Shape{3}, be).set_requires_grad(true);
  // y = sum(x * x + x): dy/dx = 2x + 1, with x used three times.
  ops::sum(ops::add(ops::mul(x, x), x)).backward();
  CHECK(x.grad().to_host<double>() == std::vector<double>{3, -3, 7});
  ops::sum(x).backward();  // gradients accumulate across backward calls, as in PyTorch
  CHECK(x.grad().to_host<double>() == std::vector<double>{4, -2, 8});
  {
    NoGradGuard no_grad;
    Tensor y = ops::sum(x);
    CHECK_FALSE(y.requires_grad());
    CHECK_THROWS_AS(y.backward(), std::logic_error);
  }
  CHECK(grad_enabled());
  Tensor c = Tensor::from_host(std::vector<double>{1, 2, 3}, Shape{3}, be);  // no grad needed
  Tensor out = ops::mul(x, c);
  CHECK_THROWS_WITH_AS(out.backward(), doctest::Contains("non-scalar shape [3]"),
                       std::invalid_argument);
  CHECK_THROWS_AS(Tensor::from_host(std::vector<int32_t>{1}, Shape{1}, be).set_requires_grad(true),
                  std::invalid_argument);
}

TEST_CASE("autograd: inputs that do not need a gradient get none") {
  Backend& be = get_backend("reference");
  Tensor w = Tensor::full(Shape{2, 3}, 0.5, DType::F64, be).set_requires_grad(true);
  Tensor x = Tensor::full(Shape{4, 3}, 1.0, DType::F64, be);
  ops::sum(ops::linear(x, w, Tensor())).backward();
  CHECK_FALSE(x.grad().defined());
  CHECK(w.grad().to_host<double>() == std::vector<double>(6, 4.0));
}

TEST_CASE("autograd: the graph keeps only what backward rules saved, and frees it once walked") {
  Backend& be = get_backend("reference");
  Tensor x = Tensor::full(Shape{1000}, 1.0, DType::F64, be).set_requires_grad(true);
  const size_t base = be.allocator().stats().current_bytes;
  Tensor loss;
  {
    // scale's output is relu's input; relu saves only its own output, so scale's output must
    // be gone once the forward pass has dropped it (a node holding its inputs kept it).
    Tensor h = ops::relu(ops::scale(x, 2.0));
    loss = ops::sum(h);
  }
  CHECK(be.allocator().stats().current_bytes == base + 8000 + 8);  // relu's output + the loss
  loss.backward();
  CHECK(x.grad().to_host<double>() == std::vector<double>(1000, 2.0));
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("already walked"), std::logic_error);
  loss = Tensor();
  CHECK(be.allocator().stats().current_bytes == base + 8000);  // x's gradient alone
}

TEST_CASE("autograd: ReLU writes its gradient in place only when nothing else holds it") {
  Backend& be = get_backend("reference");
  Tensor x = Tensor::from_host(std::vector<double>{-1, 2, -3, 4}, Shape{4}, be).set_requires_grad(true);
  // add's backward hands the same gradient to relu and to h's other use; relu runs first, and
  // masking that shared tensor in place would zero h's direct path where x < 0.
  Tensor h = ops::scale(x, 1.0);
  ops::sum(ops::add(ops::relu(h), h)).backward();
  CHECK(x.grad().to_host<double>() == std::vector<double>{1, 2, 1, 2});
  // Alone on its gradient (sum's), relu masks it in place: the same values.
  Tensor y = Tensor::from_host(std::vector<double>{-1, 2, -3, 4}, Shape{4}, be).set_requires_grad(true);
  ops::sum(ops::relu(ops::scale(y, 3.0))).backward();
  CHECK(y.grad().to_host<double>() == std::vector<double>{0, 3, 0, 3});
}

TEST_CASE("autograd: retain_graph walks a graph again, and the last walk frees it") {
  Backend& be = get_backend("reference");
  Tensor x = Tensor::full(Shape{3}, 1.5, DType::F64, be).set_requires_grad(true);
  int hook_calls = 0;
  set_grad_ready_hook(x, [&hook_calls] { ++hook_calls; });
  Tensor loss = ops::sum(ops::mul(x, x));  // x reaches the loss through two edges
  run_backward(loss, Tensor(), /*retain_graph=*/true);
  CHECK(x.grad().to_host<double>() == std::vector<double>(3, 3.0));
  CHECK(hook_calls == 1);  // once per pass, after x's last contribution
  run_backward(loss);      // the saved tensors are still there; this walk frees them
  CHECK(x.grad().to_host<double>() == std::vector<double>(3, 6.0));
  CHECK(hook_calls == 2);
  CHECK_THROWS_WITH_AS(run_backward(loss), doctest::Contains("already walked"), std::logic_error);
}

TEST_CASE("ops: shape errors name the op and the shapes") {
  Backend& be = get_backend("reference");
  Tensor a = Tensor::zeros(Shape{2, 3}, DType::F32, be),
         b = Tensor::zeros(Shape{4, 5}, DType::F32, be);
  CHECK_THROWS_WITH_AS(ops::matmul(a, b),
                       doctest::Contains("matmul: inner sizes differ, [2, 3] @ [4, 5]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ops::add(a, b),
                       doctest::Contains("add: second operand has shape [4, 5], expected [2, 3]"),
                       std::invalid_argument);
  Tensor labels = Tensor::from_host(std::vector<int32_t>{0, 3}, Shape{2}, be);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(a, labels),
                       doctest::Contains("label 3 at batch index 1 is outside [0, 3)"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(ops::linear(a, b, Tensor()), doctest::Contains("expected input [n, 5]"),
                       std::invalid_argument);
}

TEST_CASE("init: Linear as torch.nn.Linear, same numbers on every backend") {
  Generator g1(42), g2(42);
  nn::Linear on_ref(784, 128, get_backend("reference"), g1);
  nn::Linear on_cpu(784, 128, get_backend("cpu"), g2);
  std::vector<float> w = on_ref.weight.to_host<float>();
  CHECK(w == on_cpu.weight.to_host<float>());
  CHECK(on_ref.bias.to_host<float>() == on_cpu.bias.to_host<float>());
  double bound = 1 / std::sqrt(784.0), lo = 1, hi = -1, mean = 0;
  for (float v : w)
    lo = std::min(lo, double(v)), hi = std::max(hi, double(v)), mean += v / double(w.size());
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(lo < -0.95 * bound);  // the whole range is used
  CHECK(hi > 0.95 * bound);
  CHECK(std::abs(mean) < 0.01 * bound * 10);
}

TEST_CASE("modules: named parameters and counts of the notebook MLP") {
  Generator gen(0);
  auto mlp = models::make_mlp(784, {128}, 10, get_backend("cpu"), gen);
  CHECK(mlp->parameter_count() == 101770);  // 784*128 + 128 + 128*10 + 10
  auto named = mlp->named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "1.weight");
  CHECK(named[3].first == "3.bias");
  CHECK(mlp->summary().find("Linear(784, 128)  [100480 parameters]") != std::string::npos);
}

TEST_CASE("optimizers: PyTorch's SGD momentum and Adam first steps, by hand") {
  Backend& be = get_backend("reference");
  auto param = [&] { return Tensor::full(Shape{1}, 1.0, DType::F64, be).set_requires_grad(true); };
  auto set_grad = [&](const Tensor& p, double g) {
    p.set_grad(Tensor::full(Shape{1}, g, DType::F64, be));
  };

  Tensor p = param();
  SgdParams sp;
  sp.lr = 0.1;
  sp.momentum = 0.9;
  optim::Sgd sgd({p}, sp);
  set_grad(p, 0.5);
  sgd.step();  // buf = g = 0.5 -> p = 1 - 0.05
  CHECK(p.item() == doctest::Approx(0.95).epsilon(1e-12));
  sgd.step();  // buf = 0.9 * 0.5 + 0.5 = 0.95 -> p = 0.95 - 0.095
  CHECK(p.item() == doctest::Approx(0.855).epsilon(1e-12));
  sgd.zero_grad();
  CHECK_FALSE(p.grad().defined());
  sgd.step();  // no gradient: the parameter is skipped
  CHECK(p.item() == doctest::Approx(0.855).epsilon(1e-12));

  Tensor q = param();
  AdamParams ap;
  ap.lr = 0.01;
  optim::Adam adam({q}, ap);
  set_grad(q, 0.5);
  adam.step();  // bias-corrected m / sqrt(v) = 1: the first step moves by lr
  CHECK(q.item() == doctest::Approx(0.99).epsilon(1e-9));
  set_grad(q, -0.25);
  adam.step();  // the second step, by PyTorch's recurrences for m and v
  double m = 0.9 * 0.05 + 0.1 * -0.25, v = 0.999 * 0.00025 + 0.001 * 0.0625;
  double expected = 0.99 - 0.01 / (1 - 0.81) * m / (std::sqrt(v) / std::sqrt(1 - 0.998001) + 1e-8);
  CHECK(q.item() ==
        doctest::Approx(expected).epsilon(1e-9));  // step 1 left 0.99 up to eps's effect
  CHECK_THROWS_AS(optim::Sgd({param()}, SgdParams{-1, 0, 0, 0, false}), std::invalid_argument);
}

TEST_CASE("models: parameter counts of the reference notebooks' models") {
  Backend& be = get_backend("cpu");
  Generator gen(0);
  std::vector<std::string> listed = models::model_names();  // what --help and errors show
  auto count = [&](const std::string& name, Shape sample) {
    CHECK_MESSAGE(std::find(listed.begin(), listed.end(), name) != listed.end(),
                  "model_names() omits " << name);
    return models::make_model(name, sample, 10, be, gen)->parameter_count();
  };
  CHECK(count("lenet", Shape{3, 32, 32}) == 62006);
  CHECK(count("lenet", Shape{1, 28, 28}) == 61706);  // conv1 has 1 input channel
  CHECK(count("resnet18", Shape{3, 224, 224}) == 11181642);
  CHECK(count("resnet18-small", Shape{3, 32, 32}) == 11181642 - 9408 + 1728);  // 3x3 stem
  int64_t small = count("cnn-small", Shape{3, 32, 32}), medium = count("cnn-medium", Shape{3, 32, 32}),
          large = count("cnn-large", Shape{3, 32, 32});
  MESSAGE("cnn-small " << small << ", cnn-medium " << medium << ", cnn-large " << large << " parameters");
  CHECK(std::abs(small - 30000) < 3000);
  CHECK(std::abs(medium - 410000) < 20000);
  CHECK(std::abs(large - 6700000) < 200000);
  CHECK_THROWS_WITH_AS(count("lenet", Shape{3, 64, 64}), doctest::Contains("model lenet needs 32x32 images"),
                       std::invalid_argument);
  std::string known;
  for (const auto& n : listed) known += (known.empty() ? "" : ", ") + n;
  CHECK_THROWS_WITH_AS(models::make_model("transformer", Shape{3, 32, 32}, 10, be, gen),
                       ("unknown model 'transformer'; known: " + known).c_str(),
                       std::invalid_argument);
  for (const auto& name : listed) {  // every listed model builds for CIFAR-sized images
    CAPTURE(name);
    CHECK(models::make_model(name, Shape{3, 32, 32}, 10, be, gen)->parameter_count() > 0);
  }
  auto resnet = models::make_model("resnet18", Shape{3, 64, 64}, 10, be, gen);
  auto names = resnet->named_parameters();
  CHECK(names[0].first == "0.weight");
  bool has_downsample = false;
  for (auto& [n, t] : names) has_downsample = has_downsample || n == "4.0.downsample.0.weight";
  CHECK_FALSE(has_downsample);  // stage 1 keeps 64 channels and stride 1: identity shortcuts
  for (auto& [n, t] : names) has_downsample = has_downsample || n == "5.0.downsample.0.weight";
  CHECK(has_downsample);
  CHECK(resnet->named_buffers().size() == 2 * 20);  // running mean and variance of 20 batch norms
}

TEST_CASE("profiler: each op counted once, a nested op apart, nothing recorded when inactive") {
  Backend& be = get_backend("reference");
  Tensor x = Tensor::from_host(std::vector<float>(1 << 16, 1.f), Shape{1 << 16}, be);
  ops::mean(x);  // no profiler: nothing recorded anywhere
  {
    Profiler profiler;
    CHECK(Profiler::active() == &profiler);
    Tensor m = ops::mean(x);  // sum, with scale by 1/n inside its scope
    CHECK(m.to_host<float>()[0] == 1.f);
    const auto& by_op = profiler.by_op();
    REQUIRE(by_op.size() == 2);
    CHECK(by_op.at(Op::Sum).calls == 1);
    CHECK(by_op.at(Op::Scale).calls == 1);
    CHECK(by_op.at(Op::Sum).seconds > 0);
    CHECK_THROWS_AS(Profiler(), std::logic_error);  // one at a time
  }
  CHECK(Profiler::active() == nullptr);
}

TEST_CASE("check_numerics: the first op output or gradient holding NaN/inf is named") {
  Backend& be = get_backend("reference");
  Tensor x = Tensor::from_host(std::vector<float>{1, 2}, Shape{2}, be);
  x.set_requires_grad(true);
  Tensor infinite = Tensor::from_host(std::vector<float>{1, INFINITY}, Shape{2}, be);
  CHECK(first_non_finite(x) == "");
  CHECK(first_non_finite(infinite) == "[1] = inf");
  Tensor product = ops::mul(x, infinite);  // off: nothing is checked
  set_check_numerics(true);
  CHECK_THROWS_WITH_AS(ops::mul(x, infinite),
                       "the output of mul holds a non-finite value: [2][1] = inf", NumericsError);
  // A finite forward, then a non-finite gradient: the backward rule's own op (scale by 2,
  // run under no_grad) is checked like any other.
  Tensor y = ops::scale(x, 2.0);
  CHECK_THROWS_WITH_AS(run_backward(y, infinite),
                       "the output of scale holds a non-finite value: [2][1] = inf", NumericsError);
  // relu's backward calls its backend directly: the gradient itself is checked.
  Tensor r = ops::relu(x);
  CHECK_THROWS_WITH_AS(run_backward(r, infinite),
                       "the gradient of relu for its input 0 holds a non-finite value: [2][1] = inf",
                       NumericsError);
  set_check_numerics(false);
}

namespace {
// A device of `capacity` bytes: raw_allocate throws when it is full, as cudaMalloc fails.
class SmallDevice : public CachingAllocator {
 public:
  explicit SmallDevice(size_t capacity, bool splits_large_blocks = false)
      : CachingAllocator(splits_large_blocks), capacity_(capacity) {}
  ~SmallDevice() override { empty_cache(); }
  size_t used = 0;
  bool broken = false;  // fails every allocation with an error that is not out-of-memory

 protected:
  void* raw_allocate(size_t bytes) override {
    if (broken) throw std::runtime_error("device lost");
    if (used + bytes > capacity_) throw OutOfMemory("out of device memory");
    used += bytes;
    void* p = ::operator new(bytes);
    sizes_[p] = bytes;
    return p;
  }
  void raw_free(void* ptr) override {
    used -= sizes_.at(ptr);
    sizes_.erase(ptr);
    ::operator delete(ptr);
  }

 private:
  size_t capacity_;
  std::map<void*, size_t> sizes_;
};
}  // namespace

TEST_CASE("allocator: out of memory first gives the cache back, then reports") {
  SmallDevice device(4096);
  device.deallocate(device.allocate(2048), 2048);  // cached: the device still holds it
  CHECK(device.stats().cached_bytes == 2048);
  CHECK(device.used == 2048);
  void* b = device.allocate(3072);  // does not fit beside the cached block: retried after emptying
  CHECK(device.stats().cached_bytes == 0);
  CHECK(device.used == 3072);
  CHECK_THROWS_WITH_AS(device.allocate(2048), "out of device memory", OutOfMemory);
  device.deallocate(b, 3072);
}

TEST_CASE("allocator: a failure that is not out-of-memory is passed on, the cache kept") {
  SmallDevice device(4096);
  device.deallocate(device.allocate(2048), 2048);
  device.broken = true;
  CHECK_THROWS_WITH_AS(device.allocate(1024), "device lost", std::runtime_error);
  CHECK(device.stats().cached_bytes == 2048);  // not emptied for a retry that cannot help
  device.broken = false;
}

TEST_CASE("allocator: large blocks are split, merged back and reused for other sizes") {
  constexpr size_t MiB = size_t(1) << 20;
  SmallDevice device(64 * MiB, /*splits_large_blocks=*/true);
  char* a = static_cast<char*>(device.allocate(4 * MiB));
  device.deallocate(a, 4 * MiB);
  CHECK(device.allocate(MiB) == a);  // the front of the free 4 MiB, the rest left free
  CHECK(device.allocate(MiB) == a + MiB);
  CHECK(device.stats().cached_bytes == 2 * MiB);
  // 1.5 MiB from the last 2 MiB would leave less than 1 MiB: the whole piece is taken.
  CHECK(device.allocate(MiB + MiB / 2) == a + 2 * MiB);
  CHECK(device.stats().cached_bytes == 0);
  CHECK(device.used == 4 * MiB);  // one segment all along
  device.deallocate(a + MiB, MiB);
  CHECK(device.stats().cached_bytes == MiB);
  device.empty_cache();  // part of a segment in use: nothing can go back
  CHECK(device.used == 4 * MiB);
  device.deallocate(a, MiB);  // merges with the free piece after it
  device.deallocate(a + 2 * MiB, MiB + MiB / 2);  // and this with the one before: one piece
  CHECK(device.stats().cached_bytes == 4 * MiB);
  CHECK(device.stats().current_bytes == 0);
  CHECK(device.allocate(4 * MiB) == a);
  CHECK(device.used == 4 * MiB);
  device.deallocate(a, 4 * MiB);

  // Best fit: of a free 8 MiB and a free 2 MiB segment, 2 MiB is taken from the 2 MiB one.
  char* big = static_cast<char*>(device.allocate(8 * MiB));
  char* small = static_cast<char*>(device.allocate(2 * MiB));
  device.deallocate(big, 8 * MiB);
  device.deallocate(small, 2 * MiB);
  CHECK(device.allocate(2 * MiB) == small);
  device.deallocate(small, 2 * MiB);
  // Blocks under 1 MiB keep to their own size.
  void* c = device.allocate(4096);
  device.deallocate(c, 4096);
  void* d = device.allocate(2048);
  CHECK(d != c);
  device.empty_cache();
  CHECK(device.used == 2048);
  CHECK(device.stats().cached_bytes == 0);
  device.deallocate(d, 2048);
}

TEST_CASE("allocator: split segments that do not fit are given back for an out-of-memory retry") {
  constexpr size_t MiB = size_t(1) << 20;
  SmallDevice device(8 * MiB, /*splits_large_blocks=*/true);
  device.deallocate(device.allocate(6 * MiB), 6 * MiB);
  void* b = device.allocate(7 * MiB);  // not in the free 6 MiB: its segment goes, then it fits
  CHECK(device.used == 7 * MiB);
  CHECK(device.stats().cached_bytes == 0);
  device.deallocate(b, 7 * MiB);
}

TEST_CASE("allocator: host out of memory names the size, what is live, and what to change") {
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("skipping: AddressSanitizer aborts on an impossible allocation instead of failing it");
  return;
#endif
  HostAllocator alloc;
  void* live = alloc.allocate(3 << 20);
  CHECK_THROWS_WITH_AS(alloc.allocate(size_t(1) << 50),
                       "out of host memory allocating 1125899906842624 bytes (1048576.00 GiB) with "
                       "3.00 MiB of tensors live; try a smaller --batch-size or --image-size",
                       std::bad_alloc);
  alloc.deallocate(live, 3 << 20);
  // A tensor names itself: its shape says which batch size or image size to lower.
  CHECK_THROWS_WITH_AS(
      Tensor::empty(Shape{int64_t(1) << 25, int64_t(1) << 23}, DType::F32, get_backend("cpu")),
      doctest::Contains("out of host memory allocating a float32 tensor [33554432, "
                        "8388608]: 1125899906842624 bytes (1048576.00 GiB) with "),
      std::bad_alloc);
}

TEST_CASE("precision: backends without a tf32 mode say they used fp32") {
  Backend& cpu = get_backend("cpu");
  CHECK(cpu.set_precision(Precision::FP32) == "fp32");
  CHECK(cpu.set_precision(Precision::TF32) == "fp32 (cpu has no tf32 mode)");
  CHECK(get_backend("cuda-sim").set_precision(Precision::TF32) == "fp32 (cuda-sim has no tf32 mode)");
  cpu.set_precision(Precision::FP32);
}

namespace {
// The reference backend, remembering the eps each batch-norm backward is given.
class BatchNormEpsRecorder : public reference::ReferenceBackend {
 public:
  std::vector<double> backward_eps;
  void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                           const Tensor& save_mean, const Tensor& save_invstd,
                           bool batch_statistics, double eps, const Tensor& dx,
                           const Tensor& dweight, const Tensor& dbias) override {
    backward_eps.push_back(eps);
    ReferenceBackend::batch_norm_backward(dy, x, weight, save_mean, save_invstd, batch_statistics,
                                          eps, dx, dweight, dbias);
  }
};
}  // namespace

TEST_CASE("batch_norm2d: each layer's backward is given its own eps, not the last forward's") {
  BatchNormEpsRecorder be;
  std::vector<float> values(2 * 3 * 2 * 2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(i % 7) - 3;
  Tensor x = Tensor::from_host(values, Shape{2, 3, 2, 2}, be);
  x.set_requires_grad(true);
  auto ones = [&] { return Tensor::full(Shape{3}, 1.0, DType::F32, be); };
  auto zeros = [&] { return Tensor::zeros(Shape{3}, DType::F32, be); };
  Tensor h = ops::batch_norm2d(x, ones(), zeros(), zeros(), ones(), true, 0.1, 0.25);
  Tensor y = ops::batch_norm2d(h, ones(), zeros(), zeros(), ones(), true, 0.1, 1e-3);
  ops::sum(ops::mul(y, y)).backward();
  CHECK(be.backward_eps == std::vector<double>{1e-3, 0.25});  // the last layer's backward first
}

TEST_CASE("cudnn gemm: every call handed to cuBLAS has leading dimensions it accepts; k = 0 is not one") {
  using namespace nnlab::cudnn;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t m : {0, 1, 5})
        for (int64_t n : {0, 1, 7})
          for (int64_t k : {0, 1, 3}) {
            CAPTURE(ta);
            CAPTURE(tb);
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            GemmPath path = gemm_path(m, n, k);
            CHECK((path == GemmPath::Nothing) == (m == 0 || n == 0));
            if (path == GemmPath::Cublas) CHECK(cublas_gemm_args(ta, tb, m, n, k).valid());
          }
  // What cuBLAS would have been given for k = 0: A [3, 0] stored with rows of length 0.
  CHECK_FALSE(cublas_gemm_args(false, false, 3, 4, 0).valid());
  CHECK(gemm_path(3, 4, 0) == GemmPath::HandWritten);
  // C[2, 3] = A^T B^T with A [4, 2], B [3, 4]: column-major C^T = B A, both transposed.
  CublasGemmArgs g = cublas_gemm_args(true, true, 2, 3, 4);
  CHECK(g.trans_first);
  CHECK(g.trans_second);
  CHECK(g.m == 3);
  CHECK(g.n == 2);
  CHECK(g.k == 4);
  CHECK(g.ld_first == 4);   // B's rows
  CHECK(g.ld_second == 2);  // A's rows
  CHECK(g.ldc == 3);
}
