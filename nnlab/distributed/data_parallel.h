// Data-parallel training as PyTorch's DistributedDataParallel does it: every rank holds the
// whole model, rank 0's parameters and buffers are broadcast at the start, each rank computes
// gradients on its own shard of the batch, and the gradients are averaged across ranks in
// buckets whose all-reduce starts while backward is still running.
//
// Buckets: the parameters in the order their gradients become ready — reverse parameter order
// for the first step (a model's first layers get their gradients last), then the order
// observed in that step, as DDP rebuilds its buckets — cut into buckets of at most
// `bucket_bytes`. A per-parameter hook in the autograd engine (set_grad_ready_hook) copies
// each final gradient into its bucket's flat buffer; when a bucket is full its all-reduce
// starts, buckets strictly in order so that every rank issues the same collectives in the
// same order. finish_gradient_sync(), after backward and before the optimizer's step, waits
// for the rest and hands every parameter the average.
//
// Progress: MPI progresses a nonblocking collective only inside MPI calls. Rather than a
// progress thread (which needs MPI_THREAD_MULTIPLE and, with one core per rank, takes its
// time from the backward pass), every gradient hook tests the reductions in flight, so MPI
// moves them on between the backward ops, and the wait after backward polls (sleeping
// between polls rather than spinning: mpi_communicator.cpp); stats() says how much of the
// all-reduce time fell while backward still ran. NCCL reductions are queued on the compute
// stream instead.
//
// Batch norm keeps per-rank statistics (each rank normalises with its own shard's mean and
// variance, as DDP without SyncBatchNorm); broadcast_buffers() gives every rank rank 0's
// running statistics, which is what DDP's default broadcast_buffers amounts to for evaluation
// and checkpoints.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "nnlab/distributed/communicator.h"
#include "nnlab/nn/module.h"
#include "nnlab/optim/optimizer.h"

namespace nnlab::distributed {

// PyTorch's DDP caps buckets at 25 MiB, sized for GPUs and large models; here it would put
// all of LeNet (242 KiB of gradients) or the MLP (398 KiB) into one bucket, which can only
// start with the last gradient: no overlap. 64 KiB gives LeNet three buckets (measured on
// CIFAR-10 with 2 ranks: 1.6 of them complete before backward ends, where one 256 KiB bucket
// never does) and ResNet-18 a bucket per convolution; a bucket costs one more message.
constexpr size_t kDefaultBucketBytes = size_t(64) << 10;

struct DataParallelOptions {
  size_t bucket_bytes = kDefaultBucketBytes;
  // false: every all-reduce starts after backward (to measure what the overlap buys).
  bool overlap = true;
};

// What the gradient all-reduce cost, summed over the steps.
struct AllReduceStats {
  int64_t steps = 0;
  int64_t buckets = 0;  // per step (the latest layout)
  int64_t bytes = 0;    // per step
  // Wall time during which at least one all-reduce was in flight (from its start to the first
  // test that found it complete), and the part of that before backward ended.
  double in_flight_seconds = 0, during_backward_seconds = 0;
  // finish_gradient_sync(): waiting for the reductions, averaging and handing out gradients.
  double finish_seconds = 0;
  int64_t buckets_started_in_backward = 0, buckets_done_in_backward = 0;  // summed over steps
};

// Parameter indices taken in `order`, cut into buckets of at most `cap_bytes` (a tensor larger
// than the cap gets a bucket of its own).
std::vector<std::vector<size_t>> plan_buckets(const std::vector<size_t>& order,
                                              const std::vector<size_t>& bytes, size_t cap_bytes);

class DataParallel {
 public:
  // Broadcasts rank 0's parameters and buffers to every rank and hooks the parameters. A
  // collective call. The model and the communicator must outlive this object.
  DataParallel(nn::Module& model, Communicator& comm, DataParallelOptions options = {});
  ~DataParallel();  // removes the hooks
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // After backward, before the optimizer's step: every parameter's gradient becomes the mean
  // over the ranks. Throws std::logic_error naming a parameter that received no gradient.
  void finish_gradient_sync();
  void broadcast_buffers();  // rank 0's buffers (batch norm's running statistics) to every rank

  const AllReduceStats& stats() const { return stats_; }
  // Each bucket's parameter indices (model.parameters() order), in the order they start.
  std::vector<std::vector<size_t>> bucket_layout() const;

 private:
  struct Bucket {
    std::vector<size_t> params;
    Tensor buffer;  // the bucket's gradients, flat, on the model's backend
    size_t ready = 0;
    std::unique_ptr<PendingReduce> reduce;
    bool started = false, done = false;
    double started_at = 0, done_at = 0;  // seconds since the step's first hook
  };
  void build_buckets(const std::vector<size_t>& order);
  std::vector<size_t> bucket_order() const;  // the parameters, bucket after bucket
  void on_grad_ready(size_t param);
  void pack(size_t param);
  void start_ready_buckets();
  void start(Bucket& b);
  void test_in_flight();
  void reset_step();  // ready for the next backward pass
  double now() const;

  nn::Module& model_;
  Communicator& comm_;
  DataParallelOptions options_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_, offset_of_;  // per parameter: its bucket, its offset there
  std::vector<size_t> ready_order_;            // this step's hook order
  bool rebuilt_ = false;                       // buckets follow the observed order
  size_t next_to_start_ = 0;
  AllReduceStats stats_;
  double step_origin_ = -1;  // the clock at this step's first hook
};

// Gives every rank rank 0's optimizer state (momentum buffers, Adam's moments, the step count):
// after rank 0 alone has read a checkpoint. A collective call.
void broadcast_optimizer_state(Communicator& comm, optim::Optimizer& optimizer);

}  // namespace nnlab::distributed
