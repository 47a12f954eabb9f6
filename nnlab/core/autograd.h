// Autograd: a dynamic tape as in PyTorch and micrograd. Each op that needs gradients
// attaches a Node to its output holding an edge per input and a backward closure; backward()
// walks the nodes in reverse topological order. Backward rules live next to their forward op in
// nnlab/core/ops_*.cpp and are written with Backend primitives, so every backend shares them.
// A gradient is written in place only by a rule that holds the last reference to it and its
// storage (sole_reference below), so a gradient may otherwise safely alias another.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nnlab/core/tensor.h"

namespace nnlab {

// grads[i] must be set for every i with needs[i]; the rest may stay undefined.
using BackwardFn = std::function<void(const Tensor& grad_out, const std::vector<bool>& needs,
                                      std::vector<Tensor>& grads)>;

struct Node;

// Where the gradient of one input of an op goes: into a leaf's .grad, or on to the node that
// produced the input. An edge does not hold the input tensor itself: an activation stays alive
// only while a backward closure saved it (ReLU keeps its output, not its input), as PyTorch's
// graph does; holding every op's inputs kept ResNet-18's training step 30% above PyTorch's
// peak memory.
struct Edge {
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> leaf;  // a leaf input that requires grad
  std::shared_ptr<Node> producer;    // the node that made a non-leaf input
  Shape shape;                       // what its gradient must be: this shape
  DType dtype = DType::F32;          // and this dtype
};

struct Node {
  std::string op;            // for error messages and profiles
  std::vector<Edge> inputs;  // one per input, in the order grads come back
  BackwardFn backward;       // released once run: backward() frees what the op saved
};

bool grad_enabled();

// Disables recording while alive (evaluation, optimizer steps), as torch.no_grad().
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Records `out` as produced by `op` from `inputs` when grad mode is on and any input needs a
// gradient; otherwise returns `out` untouched. Saved tensors captured by `backward` must not be
// `out` itself (use out.detach()), or the node would keep its own output alive.
Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward);

// Whether a backward rule's grad_out is held by nothing but the walk that passed it (no other
// pending input, leaf, view or caller shares its storage): then the rule may write its own
// result into it and hand it on, one tensor fewer at the peak of memory.
bool sole_reference(const Tensor& grad_out);

// Runs `hook` each time a backward pass has accumulated the last gradient contribution a leaf
// receives in that pass (its grad is then final), as PyTorch's
// register_post_accumulate_grad_hook: data-parallel training starts all-reducing gradients
// from here while backward goes on. An empty hook removes it. The hook must not hold `leaf`
// itself (the tensor would keep itself alive); capture an index or a plain pointer instead.
void set_grad_ready_hook(const Tensor& leaf, std::function<void()> hook);

// Accumulates d(root)/d(leaf) into every leaf that requires grad, seeding with `grad_root`
// (ones when undefined; then root must have one element). Each node's saved tensors are freed
// as soon as its gradient has been computed, so a graph is walked once and a second backward()
// through it throws, unless `retain_graph` keeps them (as PyTorch's retain_graph; gradcheck
// walks one graph once per output element).
void run_backward(const Tensor& root, const Tensor& grad_root = Tensor(), bool retain_graph = false);

}  // namespace nnlab
