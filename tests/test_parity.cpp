// Parity: every op case, forward and backward, on every available backend against
// `reference` in float32. Backends that are not available here are named and skipped. The
// last test checks that these tests ran every op of the op table on every backend.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "nnlab/backends/cpu/gemm_variants.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/backend.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/philox.h"
#include "nnlab/core/profiler.h"
#include "nnlab/core/random.h"
#include "nnlab/core/update_rules.h"
#include "nnlab/sim/sim.h"
#include "tests/op_cases.h"

using namespace nnlab;
using namespace nnlab::testing;

namespace {
// NNLAB_TEST_DEVICES=cpu keeps the backends that run on the CPU (cpu, cuda-sim), =gpu those on
// a GPU (cuda, cudnn); unset, all.
std::vector<std::string> backends_under_test() {
  const char* devices = std::getenv("NNLAB_TEST_DEVICES");
  std::string wanted = devices ? devices : "";
  std::vector<std::string> out;
  for (const auto& name : known_backends()) {
    if (name == "reference") continue;
    bool gpu = runs_on_gpu(name);
    if ((wanted == "cpu" && gpu) || (wanted == "gpu" && !gpu)) continue;
    std::string why = unavailable_reason(name);
    if (why.empty())
      out.push_back(name);
    else
      MESSAGE("skipping backend " << name << ": " << why);
  }
  return out;
}
}  // namespace

// Runs f once, and on the simulator again under a seeded random thread order, so that a
// kernel whose result depends on the order (a missing barrier) fails its parity check.
template <typename F>
void under_each_schedule(const std::string& backend, F f) {
  f();
  if (backend != "cuda-sim") return;
  sim::set_schedule(sim::Schedule::Random, 7);
  f();
  sim::set_schedule(sim::Schedule::Fifo);
}

// The ops each backend under test ran in these tests, as a Profiler sees them (every call
// nnlab/core/ops, the optimizers and the fills hand to a backend), for the coverage test.
std::map<std::string, std::set<Op>>& exercised() {
  static std::map<std::string, std::set<Op>> ops;
  return ops;
}

// Runs f, the part of a test that computes on backend `name` (not on reference), and records
// which ops it ran there.
template <typename F>
void on_backend(const std::string& name, F f) {
  Profiler profiler;
  f();
  for (const auto& [op, totals] : profiler.by_op()) exercised()[name].insert(op);
}

bool is_missing_op(const std::runtime_error& e) {
  return std::string(e.what()).find("does not support op") != std::string::npos;
}

TEST_CASE("parity: every op case, forward and backward, against reference") {
  Backend& ref = get_backend("reference");
  for (const std::string& name : backends_under_test()) {
    Backend& be = get_backend(name);
    for (const OpCase& c : op_cases()) {
      SUBCASE((name + ": " + c.name).c_str()) {
        under_each_schedule(name, [&] {
          std::vector<Tensor> want_in = make_inputs(c, ref, DType::F32, 11, true);
          Tensor want = c.build(want_in);
          weighted_sum(want).backward();
          std::vector<Tensor> got_in = make_inputs(c, be, DType::F32, 11, true);
          Tensor got;
          try {
            on_backend(name, [&] {
              got = c.build(got_in);
              weighted_sum(got).backward();
            });
          } catch (const std::runtime_error& e) {
            if (!is_missing_op(e)) throw;
            MESSAGE("skipping " << c.name << " on " << name << ": " << e.what());
            return;
          }
          CHECK(&got.backend() == &be);
          check_close("forward", as_doubles(got), as_doubles(want));
          for (size_t i = 0; i < want_in.size(); ++i)
            if (want_in[i].requires_grad())
              check_close("grad of input " + std::to_string(i), as_doubles(got_in[i].grad()),
                          as_doubles(want_in[i].grad()));
        });
      }
    }
  }
}

// Mixed precision's 16-bit storage: every op case with its inputs (and so its outputs and
// gradients) in float16 and in bfloat16, on reference and every backend that has the dtype,
// against reference in float32 on the same values (the 16-bit inputs widened, exactly).
// The tolerance comes from the format. The backends compute in float32 (or double) and round
// every op's result once when they store it, a relative error of at most the unit roundoff u
// (2^-11 for float16, 2^-8 for bfloat16). A case stores at most about a dozen results along
// any path from an input to an output or gradient (the residual block: conv, batch norm, relu,
// conv, batch norm, add, relu forward, as many backward, the weighted sum's mul), and each
// step passes its input's relative error on at most unamplified relative to the largest
// value, which is what check_close compares against. So: 16 u. (Measured: the worst case,
// log_softmax 1x3's gradient in float16 on reference and cpu alike, reaches 3.7 u, and fails
// a tolerance of 3 u.)
double unit_roundoff(DType dtype) {
  return dtype == DType::F16 ? 0x1p-11 : 0x1p-8;
}

TEST_CASE("parity: every op case in float16 and bfloat16 against reference in float32") {
  Backend& ref = get_backend("reference");
  std::vector<std::string> names = backends_under_test();
  names.insert(names.begin(), "reference");
  for (DType dtype : {DType::F16, DType::BF16}) {
    double rtol = 16 * unit_roundoff(dtype);
    for (const std::string& name : names) {
      Backend& be = get_backend(name);
      if (!be.supports(Op::Cast, dtype)) {
        MESSAGE("skipping " << std::string(dtype_name(dtype)) << " on " << name << ": it has no 16-bit tensors");
        continue;
      }
      for (const OpCase& c : op_cases()) {
        SUBCASE((name + " " + dtype_name(dtype) + ": " + c.name).c_str()) {
          std::vector<Tensor> got_in;
          Tensor got;
          try {
            on_backend(name, [&] {
              got_in = make_inputs(c, be, dtype, 11, true);
              got = c.build(got_in);
              weighted_sum(got).backward();
            });
          } catch (const std::runtime_error& e) {
            if (!is_missing_op(e)) throw;
            MESSAGE("skipping " << c.name << " on " << name << ": " << e.what());
            return;
          }
          // The same values in float32 on reference (labels and per-channel inputs as they are).
          std::vector<Tensor> want_in;
          for (const Tensor& t : got_in) {
            Tensor w = t.to(ref);
            if (is_reduced_float(w.dtype())) w = ops::cast(w, DType::F32).detach();
            if (t.requires_grad()) w.set_requires_grad(true);
            want_in.push_back(w);
          }
          Tensor want = c.build(want_in);
          weighted_sum(want, dtype).backward();
          CHECK(got.dtype() == dtype);
          check_close("forward", as_doubles(got), as_doubles(want), rtol);
          for (size_t i = 0; i < want_in.size(); ++i)
            if (want_in[i].requires_grad())
              check_close("grad of input " + std::to_string(i), as_doubles(got_in[i].grad()),
                          as_doubles(want_in[i].grad()), rtol);
        }
      }
    }
  }
}

// Mixed precision's GEMM on every backend that has it in 16 bits (cuda-sim's gemm_16 kernel:
// float32 products and sums, c rounded once) against reference's (double sums, rounded
// once): the two can differ only where float32's sum falls on the other side of a 16-bit
// rounding boundary, by one unit in the last place: 2 u of the largest value.
TEST_CASE("parity: 16-bit GEMM in every transpose, with alpha and beta") {
  Backend& ref = get_backend("reference");
  for (const std::string& name : backends_under_test()) {
    Backend& be = get_backend(name);
    for (DType dtype : {DType::F16, DType::BF16}) {
      if (!be.supports(Op::Gemm, dtype)) continue;
      CAPTURE(name);
      CAPTURE(std::string(dtype_name(dtype)));
      for (auto [m, n, k] : {std::tuple{67, 45, 33}, std::tuple{1, 7, 1}, std::tuple{32, 32, 64}})
        for (bool ta : {false, true})
          for (bool tb : {false, true}) {
            CAPTURE(m);
            CAPTURE(ta);
            CAPTURE(tb);
            auto operand = [&](Backend& b, int64_t rows, int64_t cols, uint64_t seed) {
              Tensor t = Tensor::empty(Shape{rows, cols}, dtype, b);
              b.fill_uniform(t, -1, 1, seed, 0);
              return t;
            };
            Tensor a_ref = operand(ref, ta ? k : m, ta ? m : k, 1), b_ref = operand(ref, tb ? n : k, tb ? k : n, 2),
                   c_ref = operand(ref, m, n, 3);
            Tensor a_be = a_ref.to(be), b_be = b_ref.to(be), c_be = c_ref.to(be);
            ref.gemm(ta, tb, 1.5, a_ref, b_ref, 0.5, c_ref);
            on_backend(name, [&] {
              OpScope scope(be, Op::Gemm, dtype);
              be.gemm(ta, tb, 1.5, a_be, b_be, 0.5, c_be);
            });
            check_close("gemm", as_doubles(c_be), as_doubles(c_ref), 2 * unit_roundoff(dtype));
          }
    }
  }
}

// Conversions round to nearest even on every backend, bit for bit as reference (through
// double, one rounding): ties, subnormals, the overflow point, infinities and NaN. Loss
// scaling's unscale multiplies by the float32 inverse exactly as reference and raises the
// flag on inf or NaN, never clearing it.
TEST_CASE("parity: cast and amp_unscale are exact") {
  Backend& ref = get_backend("reference");
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> values = {0.0f, -0.0f, 1.0f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f,
                               1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 0x1p-24f, 0x1p-25f, 3 * 0x1p-26f,
                               65504.0f, 65519.0f, 65520.0f, 1e30f, -1e-30f, inf, -inf,
                               std::nanf(""), 0x1p-133f, 3.4e38f};
  for (uint64_t i = 0; i < 1000; ++i) values.push_back(float(philox::normal(5, i, 0, 100)));
  Shape shape{int64_t(values.size())};
  auto bits_of = [](const Tensor& t) {
    std::vector<uint16_t> bits;
    if (t.dtype() == DType::F16)
      for (Half h : t.to_host<Half>()) bits.push_back(h.bits);
    else
      for (BFloat16 h : t.to_host<BFloat16>()) bits.push_back(h.bits);
    return bits;
  };
  for (const std::string& name : backends_under_test()) {
    CAPTURE(name);
    Backend& be = get_backend(name);
    Tensor x_ref = Tensor::from_host(values, shape, ref), x_be = Tensor::from_host(values, shape, be);
    Tensor copy = Tensor::empty(shape, DType::F32, be);
    on_backend(name, [&] {
      OpScope scope(be, Op::Cast, DType::F32);  // float32 to float32: a copy
      be.cast(x_be, copy);
    });
    CHECK(std::memcmp(copy.to_host<float>().data(), values.data(), values.size() * 4) == 0);
    for (DType dtype : {DType::F16, DType::BF16}) {
      if (!be.supports(Op::Cast, dtype)) continue;
      CAPTURE(std::string(dtype_name(dtype)));
      Tensor narrow_ref = ops::cast(x_ref, dtype), narrow_be;
      Tensor wide_ref = ops::cast(narrow_ref, DType::F32), wide_be;
      on_backend(name, [&] {
        narrow_be = ops::cast(x_be, dtype);
        wide_be = ops::cast(narrow_be, DType::F32);
      });
      CHECK(bits_of(narrow_be) == bits_of(narrow_ref));
      std::vector<float> a = wide_be.to_host<float>(), b = wide_ref.to_host<float>();
      CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
    }
    // Unscaling: finite gradients, then one infinite and one NaN; a raised flag stays raised.
    for (int variant = 0; variant < 4; ++variant) {
      CAPTURE(variant);
      std::vector<float> grad(values.begin() + 20, values.end());
      if (variant == 1) grad[7] = inf;
      if (variant == 2) grad[900] = std::nanf("");
      float flag = variant == 3 ? 1.0f : 0.0f;
      Shape n{int64_t(grad.size())};
      Tensor g_ref = Tensor::from_host(grad, n, ref), g_be = Tensor::from_host(grad, n, be);
      Tensor f_ref = Tensor::full(Shape{1}, flag, DType::F32, ref),
             f_be = Tensor::full(Shape{1}, flag, DType::F32, be);
      double inv_scale = 1.0 / 3.0;  // not a power of two: the float32 rounding of it matters
      ref.amp_unscale(g_ref, inv_scale, f_ref);
      on_backend(name, [&] {
        OpScope scope(be, Op::AmpUnscale, DType::F32);
        be.amp_unscale(g_be, inv_scale, f_be);
      });
      CHECK(f_be.item() == f_ref.item());
      CHECK(f_ref.item() == (variant == 0 ? 0.0 : 1.0));
      std::vector<float> a = g_be.to_host<float>(), b = g_ref.to_host<float>();
      CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
      CHECK(b[3] == float(grad[3] * float(inv_scale)));
    }
  }
}

TEST_CASE("parity: argmax, fills and random fills are exact") {
  Backend& ref = get_backend("reference");
  for (const std::string& name : backends_under_test()) {
    Backend& be = get_backend(name);
    CAPTURE(name);
    // Ties resolve to the first maximum everywhere.
    std::vector<float> scores = {1, 3, 3, 0, -1, -1, -2, -5, 7, 7.5f, 7.5f, 2};
    Tensor s_ref = Tensor::from_host(scores, Shape{3, 4}, ref),
           s_be = Tensor::from_host(scores, Shape{3, 4}, be);
    std::vector<int32_t> got;
    on_backend(name, [&] { got = ops::argmax(s_be).to_host<int32_t>(); });
    CHECK(got == ops::argmax(s_ref).to_host<int32_t>());
    CHECK(got == std::vector<int32_t>{1, 0, 1});
    for (int64_t n : {1, 7, 100003}) {
      Tensor u_ref = Tensor::empty(Shape{n}, DType::F32, ref),
             u_be = Tensor::empty(Shape{n}, DType::F32, be);
      Generator gen_ref(99), gen_be(99);  // the same seed and stream position
      uniform_(u_ref, -2, 3, gen_ref);
      on_backend(name, [&] { uniform_(u_be, -2, 3, gen_be); });
      CHECK(u_be.to_host<float>() == u_ref.to_host<float>());
      normal_(u_ref, 1, 2, gen_ref);
      on_backend(name, [&] { normal_(u_be, 1, 2, gen_be); });
      CHECK(u_be.to_host<float>() == u_ref.to_host<float>());
    }
    Tensor i_be;
    on_backend(name, [&] { i_be = Tensor::full(Shape{5}, 3, DType::I32, be); });
    CHECK(i_be.to_host<int32_t>() == std::vector<int32_t>(5, 3));
  }
}

// Random inputs never tie, so the op cases cannot tell which of equal maxima a pool picks:
// here ties, -inf everywhere in a window and NaN must pick the same element as `reference`
// (the first maximum; a NaN wins), seen through where the gradient of the plain sum lands
// (counts of windows, exact in float whatever the order of accumulation).
TEST_CASE("parity: max_pool2d picks the same element for ties, -inf and NaN") {
  Backend& ref = get_backend("reference");
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> values(2 * 7 * 6);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float((i * 7) % 3);  // 0, 1, 2: ties
  for (size_t i : {0, 1, 6, 7, 45, 46, 51, 52}) values[i] = -inf;  // whole windows of -inf
  values[20] = std::nanf("");
  values[75] = std::nanf("");
  auto pool_and_grad = [&](Backend& be, const Window2d& win) {
    Tensor x = Tensor::from_host(values, Shape{1, 2, 7, 6}, be).set_requires_grad(true);
    Tensor y = ops::max_pool2d(x, win);
    ops::sum(y).backward();
    return std::make_pair(as_doubles(y), as_doubles(x.grad()));
  };
  auto equal_or_both_nan = [](const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
    return true;
  };
  for (const std::string& name : backends_under_test()) {
    Backend& be = get_backend(name);
    for (const Window2d& win : {ops::window(2, 2), ops::window(3, 2, 1), ops::window(3, 1, 1),
                                ops::window(2, 1)}) {
      CAPTURE(name);
      CAPTURE(win.kernel_h);
      CAPTURE(win.stride_h);
      CAPTURE(win.pad_h);
      auto [want_y, want_dx] = pool_and_grad(ref, win);
      std::pair<std::vector<double>, std::vector<double>> got;
      on_backend(name, [&] { got = pool_and_grad(be, win); });
      auto& [got_y, got_dx] = got;
      CHECK(equal_or_both_nan(got_y, want_y));
      CHECK(equal_or_both_nan(got_dx, want_dx));
    }
  }
}

// The cpu backend's 2x2 pool takes a row's outputs a vector (4, 8 or 16) at a time: read in
// place, or through copies near the plane's end; a short last vector stored whole into the next
// row, or masked at the plane's end. Rows of 18 outputs have all of these at every width.
TEST_CASE("parity: max_pool2d 2x2 over rows of whole and partial blocks, ties and NaN") {
  Backend& ref = get_backend("reference");
  std::vector<float> values(2 * 4 * 36);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float((i * 7) % 3);  // 0, 1, 2: ties
  for (size_t i : {3, 40, 70, 107, 180, 250}) values[i] = std::nanf("");
  auto pool_and_grad = [&](Backend& be) {
    Tensor x = Tensor::from_host(values, Shape{1, 2, 4, 36}, be).set_requires_grad(true);
    Tensor y = ops::max_pool2d(x, ops::window(2, 2));
    ops::sum(y).backward();
    return std::make_pair(as_doubles(y), as_doubles(x.grad()));
  };
  auto [want_y, want_dx] = pool_and_grad(ref);
  for (const std::string& name : backends_under_test()) {
    CAPTURE(name);
    std::pair<std::vector<double>, std::vector<double>> got;
    on_backend(name, [&] { got = pool_and_grad(get_backend(name)); });
    REQUIRE(got.first.size() == want_y.size());
    for (size_t i = 0; i < want_y.size(); ++i) {
      CAPTURE(i);
      CHECK((got.first[i] == want_y[i] || (std::isnan(got.first[i]) && std::isnan(want_y[i]))));
    }
    CHECK(got.second == want_dx);
  }
}

TEST_CASE("parity: SGD and Adam updates against reference over several steps") {
  Backend& ref = get_backend("reference");
  for (const std::string& name : backends_under_test()) {
    Backend& be = get_backend(name);
    for (int variant = 0; variant < 3; ++variant) {
      CAPTURE(name);
      CAPTURE(variant);
      int64_t n = 1000 + 37 * variant;
      auto make = [&](Backend& b, uint64_t seed) {
        Tensor t = Tensor::empty(Shape{n}, DType::F32, b);
        b.fill_uniform(t, -1, 1, seed, 0);
        return t;
      };
      Tensor p_ref = make(ref, 1), g_ref = make(ref, 2), p_be = make(be, 1), g_be = make(be, 2);
      Tensor b_ref = Tensor::zeros(Shape{n}, DType::F32, ref),
             b_be = Tensor::zeros(Shape{n}, DType::F32, be);
      Tensor v_ref = Tensor::zeros(Shape{n}, DType::F32, ref),
             v_be = Tensor::zeros(Shape{n}, DType::F32, be);
      SgdParams sgd;
      sgd.lr = 0.1;
      sgd.momentum = variant == 0 ? 0 : 0.9;
      sgd.weight_decay = variant == 2 ? 1e-2 : 0;
      sgd.nesterov = variant == 2;
      AdamParams adam;
      adam.weight_decay = variant == 1 ? 1e-2 : 0;
      // The backends' update ops directly, with the OpScope the optimizers open around them.
      for (int step = 1; step <= 4; ++step) ref.sgd_update(p_ref, g_ref, b_ref, sgd, step == 1);
      on_backend(name, [&] {
        for (int step = 1; step <= 4; ++step) {
          OpScope scope(be, Op::SgdUpdate, DType::F32);
          be.sgd_update(p_be, g_be, b_be, sgd, step == 1);
        }
      });
      check_close("sgd param", as_doubles(p_be), as_doubles(p_ref), 1e-6);
      for (int step = 1; step <= 4; ++step) ref.adam_update(p_ref, g_ref, b_ref, v_ref, adam, step);
      on_backend(name, [&] {
        for (int step = 1; step <= 4; ++step) {
          OpScope scope(be, Op::AdamUpdate, DType::F32);
          be.adam_update(p_be, g_be, b_be, v_be, adam, step);
        }
      });
      check_close("adam param", as_doubles(p_be), as_doubles(p_ref), 1e-6);
    }
  }
}

TEST_CASE("batch_norm2d: running statistics follow PyTorch's rule on every backend") {
  std::vector<std::string> names = backends_under_test();
  names.insert(names.begin(), "reference");
  for (const std::string& name : names) {
    CAPTURE(name);
    Backend& be = get_backend(name);
    if (!be.supports(Op::BatchNormForward, DType::F32)) {
      MESSAGE("skipping batch norm on " << name << ": no batch_norm_forward yet");
      continue;
    }
    // Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased variance 1.25, unbiased 5/3); channel 1 is 0.
    Tensor x = Tensor::from_host(std::vector<float>{1, 2, 0, 0, 3, 4, 0, 0}, Shape{2, 2, 1, 2}, be);
    Tensor w = Tensor::full(Shape{2}, 1.0, DType::F32, be),
           b = Tensor::zeros(Shape{2}, DType::F32, be);
    Tensor mean = Tensor::zeros(Shape{2}, DType::F32, be),
           var = Tensor::full(Shape{2}, 1.0, DType::F32, be);
    Tensor y = ops::batch_norm2d(x, w, b, mean, var, true, 0.1, 1e-5);
    std::vector<float> m = mean.to_host<float>(), v = var.to_host<float>();
    CHECK(m[0] == doctest::Approx(0.25));
    CHECK(v[0] == doctest::Approx(0.9 + 0.1 * 5.0 / 3.0));
    CHECK(m[1] == 0.0f);
    CHECK(v[1] == doctest::Approx(0.9));
    CHECK(y.to_host<float>()[0] == doctest::Approx((1 - 2.5) / std::sqrt(1.25 + 1e-5)));
    Tensor e = ops::batch_norm2d(x, w, b, mean, var, false);  // evaluation uses the running values
    CHECK(e.to_host<float>()[0] == doctest::Approx((1 - 0.25) / std::sqrt(0.9 + 0.5 / 3.0 + 1e-5)));
  }
}

TEST_CASE("uploads: large copies through the staging buffers arrive intact, back to back") {
  for (const std::string& name : backends_under_test()) {
    CAPTURE(name);
    Backend& be = get_backend(name);
    // Five 400 KB uploads in a row reuse the two staging buffers of GPU backends.
    std::vector<Tensor> uploaded;
    std::vector<std::vector<float>> sent;
    for (int i = 0; i < 5; ++i) {
      std::vector<float> v(100000 + size_t(i));
      for (size_t j = 0; j < v.size(); ++j) v[j] = float(i * 1000003 + int(j));
      uploaded.push_back(Tensor::from_host(v, Shape{int64_t(v.size())}, be));
      sent.push_back(std::move(v));
    }
    for (int i = 0; i < 5; ++i) CHECK(uploaded[size_t(i)].to_host<float>() == sent[size_t(i)]);
  }
}

TEST_CASE("parity's comparison: a NaN anywhere is the worst error, whatever follows it") {
  std::vector<double> want = {1, 2, 3, 4}, got = {1, std::nan(""), 3, 4};
  Discrepancy d = discrepancy(got, want);
  CHECK(std::isnan(d.worst));
  CHECK(d.at == 1);
  CHECK_FALSE(d.worst <= 1e-4 * d.scale);  // so check_close fails
  CHECK(discrepancy({1, 2, 3.5, 4}, want).worst == 0.5);
}

// The op cases are small; the cpu backend's products block k in slices of 256, rows in blocks
// of 144 and columns in panels of 16-32, split C among threads and pack convolutions straight
// from the images (runs of pixels crossing rows and images, padding, strides). These shapes
// cross each of those boundaries; every thread count must give the same bits.
namespace {
struct ConvShape {
  const char* name;
  Shape x, w;
  Window2d win;
};

// The three convolution ops of one shape on `be`, from the same seeded inputs.
std::vector<std::vector<double>> conv_ops(Backend& be, const ConvShape& s, bool with_bias) {
  Shape y{s.x[0], s.w[0], s.win.out_size(s.x[2], true), s.win.out_size(s.x[3], false)};
  auto random = [&](const Shape& shape, uint64_t seed) {
    Tensor t = Tensor::empty(shape, DType::F32, be);
    be.fill_uniform(t, -1, 1, seed, 0);
    return t;
  };
  Tensor x = random(s.x, 1), w = random(s.w, 2), dy = random(y, 3), b = random(Shape{s.w[0]}, 4);
  Tensor out = Tensor::empty(y, DType::F32, be), dx = Tensor::empty(s.x, DType::F32, be),
         dw = Tensor::empty(s.w, DType::F32, be);
  be.conv2d_forward(x, w, with_bias ? b : Tensor(), out, s.win);
  be.conv2d_backward_data(dy, w, dx, s.win);
  be.conv2d_backward_filter(dy, x, dw, s.win);
  return {as_doubles(out), as_doubles(dx), as_doubles(dw)};
}

std::vector<double> gemm_op(Backend& be, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                            double alpha, double beta) {
  auto random = [&](const Shape& shape, uint64_t seed) {
    Tensor t = Tensor::empty(shape, DType::F32, be);
    be.fill_uniform(t, -1, 1, seed, 0);
    return t;
  };
  Tensor a = random(ta ? Shape{k, m} : Shape{m, k}, 1), b = random(tb ? Shape{n, k} : Shape{k, n}, 2),
         c = random(Shape{m, n}, 3);
  be.gemm(ta, tb, alpha, a, b, beta, c);
  return as_doubles(c);
}
}  // namespace

TEST_CASE("parity: cpu products and convolutions across its blocking, the same bits for any thread count") {
  Backend& ref = get_backend("reference");
  Backend& cpu = get_backend("cpu");
  const int saved_threads = cpu.threads();
  auto for_threads = [&](auto f) {
    std::vector<decltype(f())> results;
    for (int threads : {1, 2, 3}) {
      cpu.set_threads(threads);
      results.push_back(f());
    }
    cpu.set_threads(saved_threads);
    CHECK(results[1] == results[0]);
    CHECK(results[2] == results[0]);
    return results[0];
  };
  struct GemmShape {
    int64_t m, n, k;
  };
  // k past two slices, rows past one block, ragged panels; columns past one L3 block (4096).
  for (GemmShape s : {GemmShape{150, 301, 600}, GemmShape{7, 4200, 20}, GemmShape{300, 5, 70}})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (double beta : {0.0, -0.5}) {
          CAPTURE(s.m);
          CAPTURE(s.n);
          CAPTURE(s.k);
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(beta);
          auto got = for_threads([&] { return gemm_op(cpu, ta, tb, s.m, s.n, s.k, 1.5, beta); });
          check_close("gemm", got, gemm_op(ref, ta, tb, s.m, s.n, s.k, 1.5, beta));
        }
  // The teaching steps of bench_ops (nnlab/backends/cpu/gemm_variants.h): whole register tiles and
  // ragged edges both.
  for (GemmShape s : {GemmShape{60, 96, 50}, GemmShape{77, 150, 91}})
    for (const auto& [name, variant] : nnlab::cpu::gemm_variants()) {
      CAPTURE(name);
      CAPTURE(s.m);
      Tensor a = Tensor::empty(Shape{s.m, s.k}, DType::F32, cpu), b = Tensor::empty(Shape{s.k, s.n}, DType::F32, cpu);
      cpu.fill_uniform(a, -1, 1, 1, 0);
      cpu.fill_uniform(b, -1, 1, 2, 0);
      std::vector<float> c(size_t(s.m * s.n), std::nanf(""));
      nnlab::cpu::gemm_variant(variant, s.m, s.n, s.k, a.data<float>(), b.data<float>(), c.data(), 2);
      check_close("gemm variant", std::vector<double>(c.begin(), c.end()),
                  gemm_op(ref, false, false, s.m, s.n, s.k, 1.0, 0.0));
    }
  const ConvShape shapes[] = {
      {"3x3 pad 1, 360-long patches, 7x7 images", Shape{3, 40, 7, 7}, Shape{16, 40, 3, 3}, ops::window(3, 1, 1)},
      {"3x3 pad 1, 40 filters (no reduction chunks)", Shape{2, 24, 12, 12}, Shape{40, 24, 3, 3}, ops::window(3, 1, 1)},
      {"3x3 stride 2 pad 1, odd size", Shape{3, 30, 9, 11}, Shape{8, 30, 3, 3}, ops::window(3, 2, 1)},
      {"1x1 stride 2 (downsample)", Shape{4, 33, 8, 8}, Shape{20, 33, 1, 1}, ops::window(1, 2, 0)},
      {"5x5 no padding (LeNet), 10 images", Shape{10, 3, 16, 16}, Shape{6, 3, 5, 5}, ops::window(5, 1, 0)},
      {"5x5, 16 filters (LeNet's conv2), 9 images", Shape{9, 6, 14, 14}, Shape{16, 6, 5, 5}, ops::window(5, 1, 0)},
      {"5x5 over 5x5 images, 8 filters (one output column: a tile wider than the row)", Shape{3, 2, 5, 5},
       Shape{8, 2, 5, 5}, ops::window(5, 1, 0)},
      {"3x3 pad 1, 12 filters over 20x9 images", Shape{3, 5, 20, 9}, Shape{12, 5, 3, 3}, ops::window(3, 1, 1)},
      {"7x7 stride 2 pad 3 (stem)", Shape{2, 3, 23, 23}, Shape{12, 3, 7, 7}, ops::window(7, 2, 3)},
      {"3x3 dilation 2 pad 1 (pad below the dilated reach)", Shape{2, 5, 10, 10}, Shape{7, 5, 3, 3}, ops::window(3, 1, 1, 2)},
      {"3x3 pad 3 (pad beyond the kernel)", Shape{2, 4, 6, 6}, Shape{5, 4, 3, 3}, ops::window(3, 1, 3)},
      {"2x2 images, 20 of them (ResNet's last stage at 64x64)", Shape{20, 64, 2, 2}, Shape{48, 64, 3, 3}, ops::window(3, 1, 1)},
      {"3x3 pad 1, 40 images of 20 channels (Winograd's filter gradient in chunks of images)",
       Shape{40, 20, 24, 24}, Shape{24, 20, 3, 3}, ops::window(3, 1, 1)},
  };
  for (const ConvShape& s : shapes)
    for (bool with_bias : {false, true}) {
      std::string shape = s.name;
      CAPTURE(shape);
      CAPTURE(with_bias);
      auto got = for_threads([&] { return conv_ops(cpu, s, with_bias); });
      auto want = conv_ops(ref, s, with_bias);
      check_close("conv2d_forward", got[0], want[0]);
      check_close("conv2d_backward_data", got[1], want[1]);
      check_close("conv2d_backward_filter", got[2], want[2]);
    }
}

// Last in this file, so last to run (doctest orders test cases by file and line): every op of
// the op table (nnlab/core/ops.def) that a backend supports ran on it in the tests above, so
// a new op cannot land without a parity case (tests/op_cases.cpp) that exercises it.
TEST_CASE("parity: the tests above ran every op of nnlab/core/ops.def on every backend") {
  const std::vector<Op> every_op = {
#define NNLAB_OP(Name, stem, params) Op::Name,
#include "nnlab/core/ops.def"
  };
  for (const std::string& name : backends_under_test()) {
    Backend& be = get_backend(name);
    std::string missing;
    for (Op op : every_op)
      if (be.supports(op, DType::F32) && exercised()[name].count(op) == 0) missing += std::string(" ") + op_name(op);
    INFO(name << ": no parity test ran" << missing
              << " (add a case to tests/op_cases.cpp; a test filter also leaves ops out)");
    CHECK(missing.empty());
  }
}
