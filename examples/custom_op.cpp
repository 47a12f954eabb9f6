// A custom op with its own backward rule, as a torch.autograd.Function: SiLU(x) = x sigmoid(x).
// nnlab::record attaches the backward rule to the output; gradcheck (torch.autograd.gradcheck)
// compares it with central differences in float64; then a model uses the op and learns.
// Exits 1 if the gradient check fails or the model does not learn.
#include <nnlab/nnlab.h>

#include <cmath>
#include <cstdio>
#include <memory>

using namespace nnlab;

// f applied to every element on the host, in x's dtype, onto x's backend. (An op meant for
// speed gets a backend method and kernels instead: docs/adding_an_op.md.)
template <typename F>
Tensor map_elements(const Tensor& x, F f) {
  if (x.dtype() == DType::F64) {
    std::vector<double> v = x.to_host<double>();
    for (double& e : v) e = f(e);
    return Tensor::from_host(v, x.shape(), x.backend());
  }
  std::vector<float> v = x.to_host<float>();
  for (float& e : v) e = float(f(double(e)));
  return Tensor::from_host(v, x.shape(), x.backend());
}

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

Tensor silu(const Tensor& x) {
  Tensor y = map_elements(x, [](double v) { return v * sigmoid(v); });
  // backward: dx = dy * d silu / dx = dy * sigmoid(x) (1 + x (1 - sigmoid(x)))
  return record(y, "silu", {x},
                [x = x.detach()](const Tensor& dy, const std::vector<bool>&, std::vector<Tensor>& dx) {
                  Tensor slope = map_elements(x, [](double v) {
                    double s = sigmoid(v);
                    return s * (1 + v * (1 - s));
                  });
                  dx[0] = ops::mul(dy, slope);
                });
}

class SiLU : public nn::Module {  // the op as a layer, for nn::Sequential
 public:
  Tensor forward(const Tensor& x) override { return silu(x); }
  std::string describe() const override { return "SiLU()"; }
};

int main() try {
  // 1. The gradient check, on `reference` in float64 (the library's ops all pass it too).
  Backend& ref = get_backend("reference");
  Generator gen(0);
  Tensor x = Tensor::empty(Shape{3, 7}, DType::F64, ref);
  normal_(x, 0, 2, gen);
  x.set_requires_grad(true);
  GradcheckResult check = gradcheck([](const std::vector<Tensor>& in) { return silu(in[0]); }, {x});
  std::printf("gradcheck of silu: %lld Jacobian entries, %s\n", (long long)check.checked,
              check.ok() ? "all within tolerance" : check.report().c_str());
  if (!check.ok()) return 1;

  // 2. The op in a model: is a point inside the circle of radius 0.7? (1,024 random points)
  Backend& be = get_backend("cpu");
  auto model = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(2, 32, be, gen), std::make_shared<SiLU>(),
      std::make_shared<nn::Linear>(32, 32, be, gen), std::make_shared<SiLU>(),
      std::make_shared<nn::Linear>(32, 2, be, gen)});
  auto make_points = [&](int64_t n, Tensor& labels) {
    Tensor points = Tensor::empty(Shape{n, 2}, DType::F32, be);
    uniform_(points, -1, 1, gen);
    std::vector<float> p = points.to_host<float>();
    std::vector<int32_t> inside(size_t(n), 0);
    for (size_t i = 0; i < inside.size(); ++i) inside[i] = p[2 * i] * p[2 * i] + p[2 * i + 1] * p[2 * i + 1] < 0.49f;
    labels = Tensor::from_host(inside, Shape{n}, be);
    return points;
  };
  Tensor train_labels, test_labels;
  Tensor train_points = make_points(1024, train_labels), test_points = make_points(1024, test_labels);
  AdamParams adam;
  adam.lr = 0.01;
  optim::Adam optimizer(model->parameters(), adam);
  for (int step = 0; step < 300; ++step) {
    Tensor loss = ops::cross_entropy((*model)(train_points), train_labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step % 100 == 0 || step == 299) std::printf("step %3d  loss %.4f\n", step, loss.item());
  }
  NoGradGuard no_grad;
  std::vector<int32_t> predicted = ops::argmax((*model)(test_points)).to_host<int32_t>();
  std::vector<int32_t> truth = test_labels.to_host<int32_t>();
  int correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  double accuracy = 100.0 * correct / double(truth.size());
  std::printf("a SiLU MLP on held-out points: %.1f%% correct\n", accuracy);
  return accuracy >= 95.0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "custom_op: %s\n", e.what());
  return 1;
}
