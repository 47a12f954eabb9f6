// The kernel lab's series (reduction, sgemm, transpose): their steps, inputs and CPU loops, and
// a Workload that runs a step on any backend with device memory (cuda-sim, its observed build,
// or cuda on a GPU) and checks what it wrote against the CPU loop. kernel_lab and the tests
// drive it; the kernels are lab/*.cu.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nnlab/core/tensor.h"

namespace nnlab::lab {

struct Step {
  const char* kernel;  // as NNLAB_LAUNCH names it
  const char* change;  // what the step changes, in a few words
};

struct Series {
  const char* name;    // "reduction", "sgemm", "transpose"
  const char* source;  // where the steps come from
  std::vector<Step> steps;
  int default_size;       // the published measurements' size (transpose: see lab/README.md)
  int size_multiple;      // sizes must be positive multiples of this
  const char* size_means;  // "elements", "m = n = k", "rows = columns"
  // For reports: the bytes a step must move at least, and its floating-point operations.
  double compulsory_bytes(int size) const;
  double flops(int size) const;
};

const std::vector<Series>& all_series();
// By name; std::invalid_argument naming the series there are otherwise.
const Series& find_series(const std::string& name);

// Measurements of a series published by others, on the GPU they used: what the timing model's
// predicted speed-ups are compared with (docs/gpu_model.md). Times per step in milliseconds at
// `size`; NaN where a step was not measured.
struct Published {
  const char* series;
  const char* gpu;  // a key of nnlab/sim/gpus.json
  int size;
  std::vector<double> ms;
  const char* source;
  const char* caveat;  // "" or what differs from the lab's kernels
};
const std::vector<Published>& published_measurements();

// One build's entry points (lab/api.h): the simulator's, the observed simulator's, nvcc's.
struct Kernels {
  int (*reduction_scratch_ints)(int n);
  const int* (*reduce)(int step, const int* in, int n, int* scratch);
  void (*sgemm)(int step, int m, int n, int k, float alpha, const float* a, const float* b, float beta, float* c);
  void (*transpose)(int step, const float* in, float* out, int n);
};
Kernels simulator_kernels();
Kernels observed_kernels();
bool have_cuda_kernels();  // this build compiled lab/*.cu with nvcc
Kernels cuda_kernels();    // only where have_cuda_kernels()

// What a check found: whether every element written matches the CPU loop, and in words.
struct Check {
  bool ok = false;
  std::string what;  // "sum 4194304 = CPU loop", "16384 of 16777216 elements ... max error 2e-7"
};

// A series' inputs at one size on one backend (any that keeps tensors in device memory the
// kernels can use: cuda-sim for both simulator builds, cuda for nvcc's), with the CPU loop's
// answers. Inputs are seeded pseudo-random values, small integers for the reduction.
class Workload {
 public:
  Workload(const Series& series, int size, Backend& backend);
  // Runs step `step` (from 1) once with these kernels. The outputs are first set back to their
  // initial values, so every run computes the same thing.
  void run(const Kernels& kernels, int step);
  // The parts of run(): the outputs back to their initial values; the step's launches alone
  // (asynchronous on a GPU: what a timing measures).
  void reset();
  void launch(const Kernels& kernels, int step);
  // Compares the outputs of the last run with the CPU loop. `fraction_run` is the share of
  // the launch's blocks that ran (1 unless the simulator sampled blocks): then only the
  // elements written are checked, and there must be that share of them.
  Check check(double fraction_run = 1.0) const;

 private:
  const Series& series_;
  int size_;
  Backend& backend_;
  std::vector<int> ints_;
  std::vector<float> a_, b_, c_initial_;
  Tensor in_, scratch_, a_device_, b_device_, c_device_;
  const int* result_ = nullptr;  // the reduction's answer, in scratch_
  int last_step_ = 0;
};

// The worklog's alpha and beta (its sgemm.cu): C is read and written.
constexpr float kSgemmAlpha = 0.5f, kSgemmBeta = 3.0f;

}  // namespace nnlab::lab
