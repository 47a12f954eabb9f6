// End to end: golden fixed-seed losses of the MLP's first steps on real MNIST (a rerun must
// match bit for bit on the CPU backends, and reference agree within float tolerance), and a
// short training run that must clear a stated accuracy.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "apps/common/experiment.h"
#include "nnlab/backends/registry.h"
#include "nnlab/core/checkpoint.h"
#include "nnlab/core/ops.h"
#include "nnlab/core/safetensors.h"
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
  save_checkpoint(path, *mlp, sgd, {1, "mlp", "sgd", 0, 0.0});
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
  save_checkpoint(path, *trained, sgd, {1, "custom", "sgd", 5, 0.0});
  std::vector<float> next = (*trained)(x).to_host<float>();
  auto resumed = make();  // a fresh stream, at its start
  optim::Sgd resumed_sgd(resumed->parameters(), SgdParams{});
  CHECK((*make())(x).to_host<float>() != next);  // without the restore the masks differ
  load_checkpoint(path, *resumed, resumed_sgd);
  CHECK((*resumed)(x).to_host<float>() == next);
  std::remove(path.c_str());
}

TEST_CASE("checkpoints: every seed that can be written is read back, up to 2^64 - 1") {
  for (uint64_t seed : {uint64_t(1) << 63, ~uint64_t(0)}) {
    CAPTURE(seed);
    std::string path = "/tmp/nnlab_ckpt_seed_" + std::to_string(::getpid());
    apps::ExperimentConfig c;
    c.seed = seed;
    c.limit = 64;
    c.epochs = 1;
    c.checkpoint = path;
    apps::run_experiment(c);
    c.epochs = 2;
    c.resume = path;
    CHECK(apps::run_experiment(c).epochs.front().epoch == 2);
    std::remove(path.c_str());
  }
}

namespace {
// A scratch directory for checkpoint targets, removed at scope exit.
struct ScratchDir {
  ScratchDir() : path("/tmp/nnlab_ckpt_targets_" + std::to_string(::getpid())) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
  std::string path;
};
}  // namespace

TEST_CASE("checkpoints: non-regular targets are refused, a symlink is written through") {
  namespace fs = std::filesystem;
  ScratchDir dir;
  Backend& be = get_backend("cpu");
  Generator gen(0);
  auto mlp = models::make_model("mlp", Shape{1, 28, 28}, 10, be, gen);
  optim::Sgd sgd(mlp->parameters(), SgdParams{});
  std::string fifo = dir.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(save_checkpoint(fifo, *mlp, sgd, {1, "mlp", "sgd", 0, 0.0}),
                       doctest::Contains((fifo + ": is a fifo, not a regular file").c_str()),
                       std::runtime_error);
  CHECK(fs::is_fifo(fifo));  // left as it was
  fs::create_directories(dir.path + "/sub");
  CHECK_THROWS_WITH_AS(save_checkpoint(dir.path + "/sub", *mlp, sgd, {1, "mlp", "sgd", 0, 0.0}),
                       doctest::Contains("/sub: is a directory, not a regular file"),
                       std::runtime_error);
  // A symlink stays a symlink; its target receives the checkpoint.
  std::string target = dir.path + "/target.ckpt", link = dir.path + "/latest.ckpt";
  std::ofstream(target) << "old";
  fs::create_symlink("target.ckpt", link);
  save_checkpoint(link, *mlp, sgd, {1, "mlp", "sgd", 0, 0.0});
  CHECK(fs::is_symlink(link));
  CHECK(fs::file_size(target) > 400000);
  CHECK(load_checkpoint(link, *mlp, sgd).epoch == 1);
  // A symlink to a fifo is refused like the fifo.
  fs::create_symlink("fifo", dir.path + "/to_fifo");
  CHECK_THROWS_WITH_AS(save_checkpoint(dir.path + "/to_fifo", *mlp, sgd, {1, "mlp", "sgd", 0, 0.0}),
                       doctest::Contains("is a fifo, not a regular file"), std::runtime_error);
  CHECK(fs::is_fifo(fifo));
}

TEST_CASE("checkpoints: a target that cannot be written is reported before training starts") {
  ScratchDir dir;
  apps::ExperimentConfig c;
  c.limit = 640;
  c.epochs = 1;
  int64_t steps = 0;
  apps::RunHooks hooks;
  hooks.on_progress = [&](const apps::Progress&) { ++steps; };
  c.checkpoint = dir.path + "/missing/ck";
  CHECK_THROWS_WITH_AS(apps::run_experiment(c, hooks),
                       doctest::Contains((dir.path + "/missing: no such directory").c_str()),
                       std::invalid_argument);
  CHECK(steps == 0);
  std::filesystem::create_directories(dir.path + "/sub");
  c.checkpoint = dir.path + "/sub";
  CHECK_THROWS_WITH_AS(apps::run_experiment(c, hooks), doctest::Contains("is a directory"),
                       std::invalid_argument);
  CHECK(steps == 0);
}

namespace {
// A safetensors file of three F32 tensors a, b, c whose data_offsets are given.
void write_safetensors_with_offsets(const std::string& path,
                                    const std::vector<std::pair<uint64_t, uint64_t>>& offsets,
                                    size_t data_bytes) {
  std::string header = "{";
  const char* names[] = {"a", "b", "c"};
  for (size_t i = 0; i < offsets.size(); ++i)
    header += std::string(i ? "," : "") + "\"" + names[i] + "\":{\"dtype\":\"F32\",\"shape\":[" +
              std::to_string((offsets[i].second - offsets[i].first) / 4) + "],\"data_offsets\":[" +
              std::to_string(offsets[i].first) + "," + std::to_string(offsets[i].second) + "]}";
  header += "}";
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(char(n >> (8 * i)));
  out << header << std::string(data_bytes, '\0');
}
}  // namespace

TEST_CASE("safetensors: data_offsets must tile the data: no overlap, gap or reversed range") {
  ScratchDir dir;
  std::string path = dir.path + "/t.safetensors";
  Backend& be = get_backend("reference");
  write_safetensors_with_offsets(path, {{0, 16}, {16, 32}, {32, 48}}, 48);
  CHECK(load_safetensors(path, be).tensors.size() == 3);
  write_safetensors_with_offsets(path, {{0, 16}, {0, 16}, {0, 16}}, 16);  // all at 0
  CHECK_THROWS_WITH_AS(
      load_safetensors(path, be),
      doctest::Contains((path + ": tensors \"a\" [0, 16) and \"b\" [0, 16) overlap").c_str()),
      std::runtime_error);
  write_safetensors_with_offsets(path, {{0, 16}, {8, 24}, {24, 40}}, 40);
  CHECK_THROWS_WITH_AS(load_safetensors(path, be),
                       doctest::Contains("tensors \"a\" [0, 16) and \"b\" [8, 24) overlap"),
                       std::runtime_error);
  write_safetensors_with_offsets(path, {{0, 16}, {20, 36}, {36, 52}}, 52);
  CHECK_THROWS_WITH_AS(load_safetensors(path, be),
                       doctest::Contains((path + ": bytes [16, 20) of the data belong to no tensor "
                                                 "(between \"a\" and \"b\")")
                                             .c_str()),
                       std::runtime_error);
  write_safetensors_with_offsets(path, {{0, 16}, {16, 32}, {32, 48}}, 64);
  CHECK_THROWS_WITH_AS(
      load_safetensors(path, be),
      doctest::Contains("bytes [48, 64) of the data belong to no tensor (after \"c\")"),
      std::runtime_error);
  write_safetensors_with_offsets(path, {{16, 0}}, 16);
  CHECK_THROWS_WITH_AS(
      load_safetensors(path, be),
      doctest::Contains("tensor \"a\": data_offsets [16, 0] end before they begin"),
      std::runtime_error);
}

TEST_CASE(
    "checkpoints: resuming with another optimizer or momentum names the file and its contents") {
  ScratchDir dir;
  apps::ExperimentConfig c;
  c.limit = 64;
  c.epochs = 1;
  c.momentum = 0.9;
  c.checkpoint = dir.path + "/sgd.ckpt";
  apps::run_experiment(c);
  c.checkpoint.clear();
  c.resume = dir.path + "/sgd.ckpt";
  c.epochs = 2;
  apps::ExperimentConfig adam = c;
  adam.optimizer = "adam";
  adam.momentum = 0;
  // The model/optimizer check comes first, before any state is restored.
  CHECK_THROWS_WITH_AS(apps::run_experiment(adam),
                       doctest::Contains("the checkpoint is of model mlp, optimizer sgd"),
                       std::invalid_argument);
  apps::ExperimentConfig no_momentum = c;
  no_momentum.momentum = 0;
  CHECK_THROWS_WITH_AS(
      apps::run_experiment(no_momentum),
      doctest::Contains((c.resume + ": the checkpoint was trained with --momentum 0.9; "
                                    "this run asks for --momentum 0")
                            .c_str()),
      std::invalid_argument);
  apps::ExperimentConfig other_momentum = c;
  other_momentum.momentum = 0.5;
  CHECK_THROWS_WITH_AS(
      apps::run_experiment(other_momentum),
      doctest::Contains("trained with --momentum 0.9; this run asks for --momentum 0.5"),
      std::invalid_argument);
  CHECK(apps::run_experiment(c).epochs.size() == 1);
  // Loaded directly (no run's check in front), a mismatched state still names the file and
  // what it holds.
  Backend& be = get_backend("cpu");
  Generator gen(0);
  auto mlp = models::make_model("mlp", Shape{1, 28, 28}, 10, be, gen);
  optim::Adam adam_optimizer(mlp->parameters(), AdamParams{});
  CHECK_THROWS_WITH_AS(
      load_checkpoint(c.resume, *mlp, adam_optimizer),
      doctest::Contains((c.resume + ": the checkpoint holds sgd state (momentum.0, "
                                    "momentum.1, momentum.2, momentum.3)")
                            .c_str()),
      std::runtime_error);
  optim::Sgd plain_sgd(mlp->parameters(), SgdParams{});  // momentum 0: no buffers to take
  CHECK_THROWS_WITH_AS(load_checkpoint(c.resume, *mlp, plain_sgd),
                       doctest::Contains("SGD with momentum 0 keeps no momentum buffers"),
                       std::runtime_error);
}

TEST_CASE("experiment: Adam takes no --momentum, as torch.optim.Adam has none") {
  apps::ExperimentConfig c;
  c.optimizer = "adam";
  c.momentum = 0.9;
  CHECK_THROWS_WITH_AS(apps::validate(c),
                       doctest::Contains("--momentum 0.9 is SGD's: Adam takes no momentum"),
                       std::invalid_argument);
}
