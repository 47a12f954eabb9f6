#include "apps/common/bench_cases.h"

#include "nnlab/core/random.h"

namespace nnlab::apps {
namespace {
Tensor random(Backend& b, const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::F32, b);
  Generator gen(seed);
  uniform_(t, -1, 1, gen);
  return t;
}
double bytes_of(std::initializer_list<Shape> shapes) {
  double elements = 0;
  for (const Shape& s : shapes) elements += double(s.numel());
  return 4 * elements;
}
std::string dims(const Shape& s) { return s.str(); }

void add_gemm(std::vector<BenchCase>& cases, const std::string& model, const std::string& what,
              bool ta, bool tb, int64_t m, int64_t n, int64_t k, bool gpu_only = false) {
  std::string shape = what + " " + std::to_string(m) + "x" + std::to_string(k) + (ta ? "^T" : "") +
                      " @ " + std::to_string(k) + "x" + std::to_string(n) + (tb ? "^T" : "");
  cases.push_back({model, "gemm", shape, Op::Gemm, 2.0 * double(m) * double(n) * double(k),
                   bytes_of({Shape{m, k}, Shape{k, n}, Shape{m, n}}), gpu_only,
                   [=](Backend& b) -> std::function<void()> {
                     Tensor a = random(b, ta ? Shape{k, m} : Shape{m, k}, 1),
                            bb = random(b, tb ? Shape{n, k} : Shape{k, n}, 2),
                            c = Tensor::empty(Shape{m, n}, DType::F32, b);
                     return [&b, a, bb, c, ta, tb] { b.gemm(ta, tb, 1.0, a, bb, 0.0, c); };
                   }});
}

// The three convolution ops of one layer: N images of C x H x W, K filters of R x R.
void add_conv(std::vector<BenchCase>& cases, const std::string& model, const std::string& layer,
              int64_t n, int64_t c, int64_t h, int64_t k, int64_t r, int64_t stride, int64_t pad) {
  Window2d win{r, r, stride, stride, pad, pad};
  int64_t p = win.out_size(h, true);
  Shape x{n, c, h, h}, w{k, c, r, r}, y{n, k, p, p};
  double flops = 2.0 * double(n * k * p * p) * double(c * r * r);
  std::string shape = layer + " x" + dims(x) + " w" + dims(w) + " s" + std::to_string(stride);
  cases.push_back({model, "conv2d_forward", shape, Op::Conv2dForward, flops, bytes_of({x, w, y}),
                   false, [=](Backend& b) -> std::function<void()> {
                     Tensor tx = random(b, x, 1), tw = random(b, w, 2), ty = Tensor::empty(y, DType::F32, b);
                     return [&b, tx, tw, ty, win] { b.conv2d_forward(tx, tw, Tensor(), ty, win); };
                   }});
  cases.push_back({model, "conv2d_backward_data", shape, Op::Conv2dBackwardData, flops,
                   bytes_of({y, w, x}), false, [=](Backend& b) -> std::function<void()> {
                     Tensor dy = random(b, y, 1), tw = random(b, w, 2), dx = Tensor::empty(x, DType::F32, b);
                     return [&b, dy, tw, dx, win] { b.conv2d_backward_data(dy, tw, dx, win); };
                   }});
  cases.push_back({model, "conv2d_backward_filter", shape, Op::Conv2dBackwardFilter, flops,
                   bytes_of({y, x, w}), false, [=](Backend& b) -> std::function<void()> {
                     Tensor dy = random(b, y, 1), tx = random(b, x, 2), dw = Tensor::empty(w, DType::F32, b);
                     return [&b, dy, tx, dw, win] { b.conv2d_backward_filter(dy, tx, dw, win); };
                   }});
}

void add_max_pool(std::vector<BenchCase>& cases, const std::string& model, const Shape& x,
                  int64_t r, int64_t stride, int64_t pad) {
  Window2d win{r, r, stride, stride, pad, pad};
  int64_t p = win.out_size(x[2], true);
  Shape y{x[0], x[1], p, p};
  std::string shape = dims(x) + " " + std::to_string(r) + "x" + std::to_string(r) + " s" + std::to_string(stride);
  double compares = double(y.numel()) * double(r * r);
  cases.push_back({model, "max_pool2d_forward", shape, Op::MaxPool2dForward, compares,
                   bytes_of({x, y, y}), false, [=](Backend& b) -> std::function<void()> {
                     Tensor tx = random(b, x, 1), ty = Tensor::empty(y, DType::F32, b),
                            idx = Tensor::empty(y, DType::I32, b);
                     return [&b, tx, ty, idx, win] { b.max_pool2d_forward(tx, ty, idx, win); };
                   }});
  cases.push_back({model, "max_pool2d_backward", shape, Op::MaxPool2dBackward, double(y.numel()),
                   bytes_of({y, y, x}), false, [=](Backend& b) -> std::function<void()> {
                     Tensor tx = random(b, x, 1), ty = Tensor::empty(y, DType::F32, b),
                            idx = Tensor::empty(y, DType::I32, b), dy = random(b, y, 2),
                            dx = Tensor::empty(x, DType::F32, b);
                     b.max_pool2d_forward(tx, ty, idx, win);  // indices the backward can follow
                     return [&b, dy, idx, dx, win] { b.max_pool2d_backward(dy, idx, dx, win); };
                   }});
}

void add_batch_norm(std::vector<BenchCase>& cases, const std::string& model, const Shape& x) {
  Shape ch{x[1]};
  double elements = double(x.numel());
  // Training forward: mean, variance, normalise, scale and shift: ~8 FLOPs an element.
  cases.push_back({model, "batch_norm_forward", "train " + dims(x), Op::BatchNormForward,
                   8 * elements, bytes_of({x, x}), false, [=](Backend& b) -> std::function<void()> {
                     Tensor tx = random(b, x, 1), w = Tensor::full(ch, 1.0, DType::F32, b),
                            bias = Tensor::zeros(ch, DType::F32, b), rm = Tensor::zeros(ch, DType::F32, b),
                            rv = Tensor::full(ch, 1.0, DType::F32, b), y = Tensor::empty(x, DType::F32, b),
                            sm = Tensor::empty(ch, DType::F32, b), si = Tensor::empty(ch, DType::F32, b);
                     return [=, &b] { b.batch_norm_forward(tx, w, bias, rm, rv, true, 0.1, 1e-5, y, sm, si); };
                   }});
  cases.push_back({model, "batch_norm_backward", "train " + dims(x), Op::BatchNormBackward,
                   10 * elements, bytes_of({x, x, x}), false, [=](Backend& b) -> std::function<void()> {
                     Tensor tx = random(b, x, 1), dy = random(b, x, 2), w = Tensor::full(ch, 1.0, DType::F32, b),
                            bias = Tensor::zeros(ch, DType::F32, b), rm = Tensor::zeros(ch, DType::F32, b),
                            rv = Tensor::full(ch, 1.0, DType::F32, b), y = Tensor::empty(x, DType::F32, b),
                            sm = Tensor::empty(ch, DType::F32, b), si = Tensor::empty(ch, DType::F32, b),
                            dx = Tensor::empty(x, DType::F32, b), dw = Tensor::empty(ch, DType::F32, b),
                            db = Tensor::empty(ch, DType::F32, b);
                     b.batch_norm_forward(tx, w, bias, rm, rv, true, 0.1, 1e-5, y, sm, si);
                     return [=, &b] { b.batch_norm_backward(dy, tx, w, sm, si, true, 1e-5, dx, dw, db); };
                   }});
}

void add_elementwise(std::vector<BenchCase>& cases, const std::string& model, const Shape& x) {
  double elements = double(x.numel());
  cases.push_back({model, "relu_forward", dims(x), Op::ReluForward, elements, bytes_of({x, x}),
                   false, [=](Backend& b) -> std::function<void()> {
                     Tensor tx = random(b, x, 1), y = Tensor::empty(x, DType::F32, b);
                     return [&b, tx, y] { b.relu_forward(tx, y); };
                   }});
  cases.push_back({model, "add", dims(x) + " (residual)", Op::Add, elements, bytes_of({x, x, x}),
                   false, [=](Backend& b) -> std::function<void()> {
                     Tensor p = random(b, x, 1), q = random(b, x, 2), out = Tensor::empty(x, DType::F32, b);
                     return [&b, p, q, out] { b.add(p, q, out); };
                   }});
}

void add_loss(std::vector<BenchCase>& cases, const std::string& model, int64_t n, int64_t classes) {
  Shape x{n, classes};
  cases.push_back({model, "log_softmax_forward", dims(x), Op::LogSoftmaxForward,
                   4.0 * double(x.numel()), bytes_of({x, x}), false,
                   [=](Backend& b) -> std::function<void()> {
                     Tensor tx = random(b, x, 1), y = Tensor::empty(x, DType::F32, b);
                     return [&b, tx, y] { b.log_softmax_forward(tx, y); };
                   }});
}

void add_optimizers(std::vector<BenchCase>& cases, const std::string& model, const std::string& what,
                    int64_t n) {
  Shape s{n};
  cases.push_back({model, "sgd_update", what + " momentum 0.9, " + std::to_string(n) + " values",
                   Op::SgdUpdate, 4.0 * double(n), bytes_of({s, s, s, s, s}), false,
                   [=](Backend& b) -> std::function<void()> {
                     Tensor p = random(b, s, 1), g = random(b, s, 2), m = Tensor::zeros(s, DType::F32, b);
                     SgdParams sp;
                     sp.momentum = 0.9;
                     return [=, &b] { b.sgd_update(p, g, m, sp, false); };
                   }});
  cases.push_back({model, "adam_update", what + ", " + std::to_string(n) + " values", Op::AdamUpdate,
                   12.0 * double(n), bytes_of({s, s, s, s, s, s, s}), false,
                   [=](Backend& b) -> std::function<void()> {
                     Tensor p = random(b, s, 1), g = random(b, s, 2), m = Tensor::zeros(s, DType::F32, b),
                            v = Tensor::zeros(s, DType::F32, b);
                     return [=, &b] { b.adam_update(p, g, m, v, AdamParams{}, 10); };
                   }});
}
}  // namespace

std::vector<BenchCase> bench_cases() {
  std::vector<BenchCase> cases;
  // The MLP 784-128-10 at batch 64: the forward GEMM and the two gradient GEMMs of layer 1.
  add_gemm(cases, "mlp", "fc1 forward", false, true, 64, 128, 784);
  add_gemm(cases, "mlp", "fc1 dW", true, false, 128, 784, 64);
  add_gemm(cases, "mlp", "fc1 dX", false, false, 64, 784, 128);
  add_loss(cases, "mlp", 64, 10);
  add_optimizers(cases, "mlp", "fc1 weight", 128 * 784);
  // LeNet on CIFAR-10 at batch 64.
  add_conv(cases, "lenet", "conv1", 64, 3, 32, 6, 5, 1, 0);
  add_conv(cases, "lenet", "conv2", 64, 6, 14, 16, 5, 1, 0);
  add_max_pool(cases, "lenet", Shape{64, 6, 28, 28}, 2, 2, 0);
  // ResNet-18 at 224x224, batch 8: the stem and one 3x3 convolution per stage.
  add_conv(cases, "resnet18", "stem", 8, 3, 224, 64, 7, 2, 3);
  add_conv(cases, "resnet18", "layer1", 8, 64, 56, 64, 3, 1, 1);
  add_conv(cases, "resnet18", "layer2", 8, 128, 28, 128, 3, 1, 1);
  add_conv(cases, "resnet18", "layer3", 8, 256, 14, 256, 3, 1, 1);
  add_conv(cases, "resnet18", "layer4", 8, 512, 7, 512, 3, 1, 1);
  add_max_pool(cases, "resnet18", Shape{8, 64, 112, 112}, 3, 2, 1);
  add_batch_norm(cases, "resnet18", Shape{8, 64, 56, 56});
  add_elementwise(cases, "resnet18", Shape{8, 64, 56, 56});
  add_optimizers(cases, "resnet18", "layer4 conv weight", 512 * 512 * 9);
  for (int64_t s : kSquareGemmSizes)
    add_gemm(cases, "square", "square", false, false, s, s, s, s > kLargestCpuSquareGemm);
  return cases;
}

}  // namespace nnlab::apps
