// Every kernel of the cuda backend under compute-sanitizer's three tools, on the simulator
// (nnlab/sim/observe.h): memcheck, racecheck and initcheck over every op case forward and
// backward in float32, float16 and bfloat16, the fills and random fills, both optimizers, the four GEMM variants in every
// transpose and the kernels the backend does not call itself; then every __global__ function
// of nnlab/backends/cuda/*.cu must have run. A finding fails the test with its report (kernel, block,
// thread, source line, allocation or array, offset). scripts/sim_check runs it (ctest -L simcheck).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "nnlab/backends/cuda/api.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/ops.h"
#include "nnlab/sim/observe.h"
#include "tests/op_cases.h"
#include "tests/sim_observable.h"


using namespace nnlab;
using namespace nnlab::testing;
namespace ok = nnlab::cuda_sim_observed;

TEST_CASE("sim checks: every kernel of the cuda backend under memcheck, racecheck and initcheck") {
  if (!sim_observable()) return;
  std::set<std::string> launched;
  size_t launches = 0;
  // Alive before any allocation: initcheck judges only memory allocated while it records.
  sim::Recording recording(sim::Checks::all());
  recording.on_launch = [&](sim::LaunchMetrics&& m) {
    launched.insert(sim::unqualified_name(m.function));
    ++launches;
  };
  Backend& be = get_observed_sim_backend();

  // Every op case in float32 and in mixed precision's 16-bit types (the 16-bit kernels).
  for (DType dtype : {DType::F32, DType::F16, DType::BF16})
    for (const OpCase& c : op_cases()) {
      CAPTURE(c.name);
      CAPTURE(std::string(dtype_name(dtype)));
      std::vector<Tensor> inputs = make_inputs(c, be, dtype, 11, true);
      weighted_sum(c.build(inputs), dtype).backward();
    }
  for (int64_t n : {1, 7, 1000}) {
    Tensor t = Tensor::empty(Shape{n}, DType::F32, be), g = Tensor::full(Shape{n}, 0.5, DType::F32, be);
    be.fill_uniform(t, -1, 1, 3, 0);
    be.fill_normal(t, 0, 1, 3, 0);
    be.dropout_mask(t, 0.25, 3, 0);
    Tensor m = Tensor::zeros(Shape{n}, DType::F32, be), v = Tensor::zeros(Shape{n}, DType::F32, be);
    be.sgd_update(t, g, m, SgdParams{0.1, 0.9, 0, 1e-4, true}, true);
    be.sgd_update(t, g, m, SgdParams{0.1, 0.9, 0, 1e-4, true}, false);
    be.adam_update(t, g, m, v, AdamParams{}, 1);
    Tensor found_inf = Tensor::zeros(Shape{1}, DType::F32, be);
    be.amp_unscale(g, 1.0 / 1024, found_inf);
    CHECK(Tensor::full(Shape{n}, 3, DType::I32, be).to_host<int32_t>()[0] == 3);
  }
  // Mixed precision's kernels: casts both ways and the 16-bit GEMM in every transpose.
  for (DType dtype : {DType::F16, DType::BF16}) {
    Tensor x = Tensor::empty(Shape{37, 37}, DType::F32, be);  // square: every transpose fits
    be.fill_uniform(x, -1, 1, 6, 0);
    Tensor a = ops::cast(x, dtype), c = ops::cast(x, dtype);
    ops::cast(a, DType::F32);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) be.gemm(ta, tb, 1.0, a, a, 0.5, c);
  }
  Tensor scores = Tensor::zeros(Shape{5, 7}, DType::F32, be);
  be.fill_uniform(scores, -1, 1, 4, 0);
  ops::argmax(scores);

  // The GEMM variants in every transpose, on sizes with and without the float4 path, and the
  // entry points the backend does not use.
  for (auto [m, n, k] : {std::tuple{67, 45, 33}, std::tuple{64, 64, 16}}) {
    Tensor a = Tensor::empty(Shape{m * k}, DType::F32, be), b = Tensor::empty(Shape{k * n}, DType::F32, be),
           c = Tensor::empty(Shape{m * n}, DType::F32, be);
    for (const Tensor* t : {&a, &b, &c}) be.fill_uniform(*t, -1, 1, 5, 0);
    auto* pa = static_cast<const float*>(a.raw());
    auto* pb = static_cast<const float*>(b.raw());
    auto* pc = static_cast<float*>(c.raw());
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto v : {ok::GemmVariant::Naive, ok::GemmVariant::Tiled, ok::GemmVariant::RegisterBlocked,
                       ok::GemmVariant::Vectorized})
          ok::gemm_variant(v, ta, tb, m, n, k, 1.5f, pa, pb, 0.5f, pc);
    ok::sgemm_naive(pa, pb, pc, m, n, k);
    ok::sgemm_tiled(pa, pb, pc, m, n, k);
    ok::axpy(2.0f, pa, pc, m * n < m * k ? m * n : m * k);
    Tensor partials = Tensor::empty(Shape{ok::reduce_partials(m * k)}, DType::F32, be),
           total = Tensor::empty(Shape{1}, DType::F32, be);
    ok::sum(pa, m * k, static_cast<float*>(partials.raw()), static_cast<float*>(total.raw()));
    ok::softmax_rows(pa, pc, m, k < n ? k : n);
  }

  std::vector<std::string> missing;
  for (const sim::KernelSource& k : sim::kernel_sources())
    if (std::string(k.file).rfind("nnlab/backends/cuda/", 0) == 0 && !launched.count(k.name))
      missing.push_back(std::string(k.name) + " (" + k.file + ")");
  std::string list;
  for (const auto& m : missing) list += "\n  " + m;
  CHECK_MESSAGE(missing.empty(), "kernels of nnlab/backends/cuda/*.cu that no check ran:" << list);
  MESSAGE(launches << " launches of " << launched.size() << " kernels checked");
}
