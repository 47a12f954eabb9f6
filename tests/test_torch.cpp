// Parity with PyTorch: tests/torch_parity.py writes PyTorch's weights, inputs, outputs,
// gradients and running statistics for LeNet, ResNet-18 and single ops; nnlab loads the same
// weights and inputs and must match within float32 tolerance on every CPU backend. Skips with
// a message where Debian's python3-torch is not installed.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include "backends/registry.h"
#include "core/ops.h"
#include "core/safetensors.h"
#include "models/resnet.h"
#include "models/zoo.h"
#include "tests/op_cases.h"

using namespace nnlab;

namespace {
const std::map<std::string, Tensor>* g_reference = nullptr;

// PyTorch's results, produced once per test run (nullptr when PyTorch is missing).
const std::map<std::string, Tensor>* torch_results() {
  static bool tried = false;
  static std::map<std::string, Tensor> tensors;
  if (tried) return g_reference;
  tried = true;
  // Debian's python3-torch by default; NNLAB_PYTHON names another interpreter with torch.
  const char* chosen = std::getenv("NNLAB_PYTHON");
  std::string python = chosen && *chosen ? chosen : "/usr/bin/python3";
  if (std::system((python + " -c 'import torch' > /dev/null 2>&1").c_str()) != 0) {
    MESSAGE("skipping PyTorch parity: " << python
                                        << " cannot import torch (apt-get install python3-torch, "
                                           "or set NNLAB_PYTHON)");
    return nullptr;
  }
  std::string out = "/tmp/nnlab_torch_parity_" + std::to_string(::getpid()) + ".safetensors";
  std::string cmd = python + " " NNLAB_SOURCE_DIR "/tests/torch_parity.py " + out + " > /dev/null";
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "tests/torch_parity.py failed");
  tensors = load_safetensors(out, get_backend("reference")).tensors;
  std::remove(out.c_str());
  g_reference = &tensors;
  return g_reference;
}

const Tensor& at(const std::string& name) {
  auto it = g_reference->find(name);
  REQUIRE_MESSAGE(it != g_reference->end(), "PyTorch's file lacks " << name);
  return it->second;
}

// The shared comparison (tests/op_cases.h), on tensors whose shapes must agree first.
void check_close(const std::string& what, const Tensor& got, const Tensor& want, double rtol) {
  REQUIRE_MESSAGE(got.shape() == want.shape(),
                  what << ": shape " << got.shape().str() << " vs " << want.shape().str());
  testing::check_close(what, testing::as_doubles(got), testing::as_doubles(want), rtol);
}

// ResNet-18 runs in float64 (tests/torch_parity.py says why), LeNet in float32.
void check_model(const std::string& name, const Shape& sample, Backend& be) {
  Generator gen(0);
  auto model = name == "resnet18" ? models::make_resnet18(sample[0], 10, false, be, gen, DType::F64)
                                  : models::make_model(name, sample, 10, be, gen);
  std::string prefix = name + "/";
  for (auto& [pname, p] : model->named_parameters()) {
    const Tensor& src = at(prefix + "param/" + pname);
    REQUIRE_MESSAGE(src.shape() == p.shape(),
                    pname << ": nnlab " << p.shape().str() << ", PyTorch " << src.shape().str());
    p.copy_from(src);
  }
  for (auto& [bname, b] : model->named_buffers()) {
    const Tensor& src = at(prefix + "buffer/" + bname);
    b.copy_from(src);
  }
  size_t torch_params = 0;
  for (auto& [key, t] : *g_reference) torch_params += key.rfind(prefix + "param/", 0) == 0;
  CHECK(torch_params == model->named_parameters().size());  // the same set of parameters
  Tensor x = at(prefix + "input").to(be), labels = at(prefix + "labels").to(be);
  Tensor out = model->forward(x);
  Tensor loss = ops::cross_entropy(out, labels);
  loss.backward();
  check_close(name + " logits", out, at(prefix + "output"), 1e-4);
  check_close(name + " loss", loss, at(prefix + "loss"), 1e-5);
  for (auto& [pname, p] : model->named_parameters())
    check_close(name + " grad " + pname, p.grad(), at(prefix + "grad/" + pname), 1e-3);
  for (auto& [bname, b] : model->named_buffers())
    check_close(name + " " + bname, b, at(prefix + "buffer_after/" + bname), 1e-5);
}

std::vector<Backend*> cpu_backends() {
  return {&get_backend("reference"), &get_backend("cpu")};
}
}  // namespace

TEST_CASE("PyTorch parity: LeNet forward, loss and every parameter gradient") {
  if (!torch_results()) return;
  for (Backend* be : cpu_backends()) {
    CAPTURE(be->name());
    check_model("lenet", Shape{3, 32, 32}, *be);
  }
}

TEST_CASE("PyTorch parity: ResNet-18 forward, loss, gradients and batch-norm running statistics") {
  if (!torch_results()) return;
  for (Backend* be : cpu_backends()) {
    CAPTURE(be->name());
    check_model("resnet18", Shape{3, 64, 64}, *be);
  }
}

TEST_CASE("PyTorch parity: single ops, forward and input gradients") {
  if (!torch_results()) return;
  using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
  auto bn = [](const std::vector<Tensor>& x) {
    Tensor mean = Tensor::zeros(Shape{x[0].dim(1)}, DType::F32, x[0].backend());
    Tensor var = Tensor::full(Shape{x[0].dim(1)}, 1.0, DType::F32, x[0].backend());
    return ops::batch_norm2d(x[0], x[1], x[2], mean, var, true, 0.1, 1e-5);
  };
  std::map<std::string, std::pair<int, Fn>> cases = {
      {"conv2d_dilated",
       {3,
        [](const std::vector<Tensor>& x) {
          return ops::conv2d(x[0], x[1], x[2], ops::window(1, 1, 2, 2));
        }}},
      {"conv2d_stride2_odd",
       {3,
        [](const std::vector<Tensor>& x) {
          return ops::conv2d(x[0], x[1], x[2], ops::window(1, 2, 1));
        }}},
      {"max_pool2d_k3s2p1",
       {1,
        [](const std::vector<Tensor>& x) { return ops::max_pool2d(x[0], ops::window(3, 2, 1)); }}},
      {"avg_pool2d_k3s1p1",
       {1,
        [](const std::vector<Tensor>& x) { return ops::avg_pool2d(x[0], ops::window(3, 1, 1)); }}},
      {"batch_norm2d_train", {3, bn}},
      {"log_softmax", {1, [](const std::vector<Tensor>& x) { return ops::log_softmax(x[0]); }}},
      {"linear", {3, [](const std::vector<Tensor>& x) { return ops::linear(x[0], x[1], x[2]); }}},
  };
  for (Backend* be : cpu_backends())
    for (auto& [name, c] : cases) {
      CAPTURE(be->name());
      CAPTURE(name);
      std::vector<Tensor> in;
      for (int i = 0; i < c.first; ++i)
        in.push_back(at("op/" + name + "/in/" + std::to_string(i)).to(*be).set_requires_grad(true));
      Tensor out = c.second(in);
      check_close(name + " output", out, at("op/" + name + "/output"), 1e-5);
      ops::sum(ops::mul(out, at("op/" + name + "/weights").to(*be))).backward();
      for (int i = 0; i < c.first; ++i)
        check_close(name + " grad " + std::to_string(i), in[size_t(i)].grad(),
                    at("op/" + name + "/grad/" + std::to_string(i)), 1e-4);
    }
}
