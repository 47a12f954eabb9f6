// End to end: golden fixed-seed losses of the MLP's first steps on real MNIST (a rerun must
// match bit for bit on the CPU backends, and reference agree within float tolerance), and a
// short training run that must clear a stated accuracy.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "apps/common/experiment.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/core/ops.h"
#include "nnlab/data/idx.h"
#include "nnlab/data/loader.h"
#include "nnlab/data/paths.h"
#include "nnlab/models/zoo.h"
#include "nnlab/nn/layers.h"
#include "nnlab/optim/optimizer.h"
#include "tests/golden.h"

using namespace nnlab;
using nnlab::testing::first_losses;
using nnlab::testing::kGoldenLosses;


TEST_CASE("golden run: the MLP's first losses on reference match the recorded values") {
  std::vector<float> losses = first_losses("reference", int(kGoldenLosses.size()));
  std::ostringstream all;  // printed on failure, in the form to paste above when re-recording
  all << std::setprecision(9);
  for (float l : losses) all << l << "f, ";
  INFO("losses on reference: " << all.str());
  for (size_t i = 0; i < losses.size(); ++i) {
    CAPTURE(i);
    CHECK(losses[i] == doctest::Approx(kGoldenLosses[i]).epsilon(1e-5));
  }
}

TEST_CASE("golden run: cpu reruns bit for bit, for any thread count, and agrees with reference") {
  int steps = int(kGoldenLosses.size());
  std::vector<float> a = first_losses("cpu", steps, 2), b = first_losses("cpu", steps, 2);
  CHECK(a == b);
  CHECK(first_losses("cpu", steps, 1) == a);
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i] == doctest::Approx(kGoldenLosses[i]).epsilon(1e-4));
  }
}

TEST_CASE("golden run: the hand-written kernels on the simulator agree with the recorded losses") {
  std::vector<float> losses = first_losses("cuda-sim", int(kGoldenLosses.size()));
  for (size_t i = 0; i < losses.size(); ++i) {
    CAPTURE(i);
    CHECK(losses[i] == doctest::Approx(kGoldenLosses[i]).epsilon(1e-4));
  }
}

TEST_CASE("golden run: LeNet's first losses on the simulator agree with cpu") {
  std::vector<float> cpu = first_losses("cpu", 3, 0, "lenet", 16),
                     sim = first_losses("cuda-sim", 3, 0, "lenet", 16);
  for (size_t i = 0; i < cpu.size(); ++i) {
    CAPTURE(i);
    CHECK(sim[i] == doctest::Approx(cpu[i]).epsilon(1e-4));
  }
}

TEST_CASE("end to end: Adam on 5000 MNIST images for 2 epochs exceeds 88% test accuracy") {
  apps::ExperimentConfig c;
  c.backend = "cpu";
  c.epochs = 2;
  c.optimizer = "adam";
  c.lr = 1e-3;
  c.limit = 5000;
  c.workers = 2;
  apps::RunResult r = apps::run_experiment(c);
  MESSAGE("test accuracy after 2 epochs on 5000 images: " << r.final_accuracy());
  CHECK(r.final_accuracy() > 0.88);  // 90.0% when recorded; deterministic
  CHECK(r.epochs[1].train_loss < r.epochs[0].train_loss);
  CHECK(r.peak_bytes() > 0);
}

namespace {
std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
}  // namespace

TEST_CASE("checkpoints: a resumed run is bit-identical to an uninterrupted one on cpu") {
  for (const char* optimizer : {"sgd", "adam"}) {
    CAPTURE(optimizer);
    std::string dir = "/tmp/nnlab_ckpt_" + std::to_string(::getpid()) + "_" + optimizer;
    apps::ExperimentConfig c;
    c.backend = "cpu";
    c.optimizer = optimizer;
    c.lr = std::string(optimizer) == "sgd" ? 0.05 : 1e-3;
    c.momentum =
        std::string(optimizer) == "sgd" ? 0.9 : 0.0;  // SGD's momentum buffers are state too
    c.limit = 1000;
    c.epochs = 3;
    c.checkpoint = dir + "_straight";
    apps::run_experiment(c);
    c.epochs = 1;
    c.checkpoint = dir + "_first";
    apps::run_experiment(c);
    c.epochs = 3;
    c.resume = dir + "_first";
    c.checkpoint = dir + "_resumed";
    apps::RunResult resumed = apps::run_experiment(c);
    CHECK(resumed.epochs.size() == 2);  // epochs 2 and 3
    CHECK(resumed.epochs.front().epoch == 2);
    std::vector<char> straight = file_bytes(dir + "_straight"),
                      continued = file_bytes(dir + "_resumed");
    CHECK(straight.size() > 400000);
    CHECK(straight == continued);  // every parameter, buffer and optimizer state, bit for bit
    for (const char* suffix : {"_straight", "_first", "_resumed"})
      std::remove((dir + suffix).c_str());
  }
}

TEST_CASE("checkpoints: damaged or mismatched files are refused, naming the file and the entry") {
  Backend& be = get_backend("cpu");
  Generator gen(0);
  auto mlp = models::make_model("mlp", Shape{1, 28, 28}, 10, be, gen);
  optim::Sgd sgd(mlp->parameters(), SgdParams{});
  std::string path = "/tmp/nnlab_ckpt_bad_" + std::to_string(::getpid());
  save_checkpoint(path, *mlp, sgd, {1, "mlp", "sgd", 0});
  CHECK(load_checkpoint(path, *mlp, sgd).epoch == 1);
  auto lenet = models::make_model("lenet", Shape{1, 28, 28}, 10, be, gen);
  optim::Sgd lenet_sgd(lenet->parameters(), SgdParams{});
  CHECK_THROWS_WITH_AS(load_checkpoint(path, *lenet, lenet_sgd),
                       doctest::Contains("no tensor \"param/0.weight\""), std::runtime_error);
  std::vector<char> bytes = file_bytes(path);
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), std::streamsize(bytes.size() / 2));  // truncated
  CHECK_THROWS_WITH_AS(load_checkpoint(path, *mlp, sgd),
                       doctest::Contains((path + ": tensor").c_str()), std::runtime_error);
  std::ofstream(path, std::ios::binary)
      << "\xff\xff\xff\xff\xff\xff\xff\x7f{}";  // absurd header length
  CHECK_THROWS_WITH_AS(load_checkpoint(path, *mlp, sgd), doctest::Contains("exceeds the file"),
                       std::runtime_error);
  std::remove(path.c_str());
}

TEST_CASE("checkpoints: Dropout's random stream resumes where it stopped") {
  Backend& be = get_backend("cpu");
  auto make = [&be] {
    Generator gen(5);
    return std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(6, 6, be, gen), std::make_shared<nn::Dropout>(0.5, gen)});
  };
  Tensor x = Tensor::full(Shape{4, 6}, 1.0, DType::F32, be);
  auto trained = make();
  optim::Sgd sgd(trained->parameters(), SgdParams{});
  (*trained)(x);  // one draw moves the stream
  std::string path = "/tmp/nnlab_ckpt_dropout_" + std::to_string(::getpid());
  save_checkpoint(path, *trained, sgd, {1, "custom", "sgd", 5});
  std::vector<float> next = (*trained)(x).to_host<float>();
  auto resumed = make();  // a fresh stream, at its start
  optim::Sgd resumed_sgd(resumed->parameters(), SgdParams{});
  CHECK((*make())(x).to_host<float>() != next);  // without the restore the masks differ
  load_checkpoint(path, *resumed, resumed_sgd);
  CHECK((*resumed)(x).to_host<float>() == next);
  std::remove(path.c_str());
}
