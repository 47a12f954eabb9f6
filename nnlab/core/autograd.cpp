#include "nnlab/core/autograd.h"

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "nnlab/core/backend.h"
#include "nnlab/core/numerics.h"
#include "nnlab/core/ops.h"

namespace nnlab {
namespace {
thread_local bool g_grad_enabled = true;

// Depth-first post-order over the graph of nodes, without recursion so that deep graphs (many
// layers, many steps of a recurrent model) cannot overflow the stack. The order holds the
// nodes, so that each stays alive until it has run whatever tensors are freed meanwhile.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  visited.insert(root.get());
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->inputs.size()) {
      const std::shared_ptr<Node>& in = node->inputs[next_input++].producer;
      if (in && visited.insert(in.get()).second) stack.push_back({in, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return order;  // producers before the nodes that use their outputs
}
}  // namespace

bool grad_enabled() {
  return g_grad_enabled;
}
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) {
  g_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  g_grad_enabled = previous_;
}

Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward) {
  if (check_numerics()) require_finite(out, std::string("the output of ") + op);
  if (!g_grad_enabled) return out;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      e.requires_grad = true;
      e.shape = t.shape();
      e.dtype = t.dtype();
      if (t.grad_fn())
        e.producer = t.impl().grad_fn;
      else
        e.leaf = t.impl_ptr();
    }
    node->inputs.push_back(std::move(e));
  }
  node->backward = std::move(backward);
  out.impl().grad_fn = std::move(node);
  out.impl().requires_grad = true;
  return out;
}

void set_grad_ready_hook(const Tensor& leaf, std::function<void()> hook) {
  if (leaf.grad_fn())
    throw std::logic_error("set_grad_ready_hook: the tensor is not a leaf (it has a grad_fn)");
  leaf.impl().grad_ready_hook = std::move(hook);
}

bool sole_reference(const Tensor& grad_out) {
  // run_backward hands each node its pending gradient as the walk's one local copy.
  return grad_out.impl_ptr().use_count() == 1 && grad_out.impl().storage.use_count() == 1;
}

void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  if (!root.requires_grad())
    throw std::logic_error("backward(): the tensor does not require grad (no leaf needs it)");
  Tensor seed = grad_root;
  if (!seed.defined()) {
    if (root.numel() != 1)
      throw std::invalid_argument("backward(): a gradient is needed for non-scalar shape " +
                                  root.shape().str());
    seed = Tensor::full(root.shape(), 1.0, root.dtype(), root.backend());
  }
  check_shape(seed, root.shape(), "backward", "gradient");

  NoGradGuard no_grad;  // backward rules must not record themselves
  auto accumulate_leaf = [](TensorImpl& leaf, const Tensor& g) {
    leaf.grad = leaf.grad ? ops::add(Tensor(leaf.grad), g).impl_ptr() : g.impl_ptr();
  };
  if (!root.grad_fn()) {  // a leaf
    accumulate_leaf(root.impl(), seed);
    if (root.impl().grad_ready_hook) root.impl().grad_ready_hook();
    return;
  }
  std::unordered_map<Node*, Tensor> pending;  // gradients of the outputs of nodes
  pending[root.grad_fn()] = seed;
  const std::vector<std::shared_ptr<Node>> order = topological_order(root.impl().grad_fn);
  // For each hooked leaf, the gradient contributions still to come in this pass: its hook
  // runs when the last one has been accumulated.
  std::unordered_map<TensorImpl*, int> contributions_left;
  for (const std::shared_ptr<Node>& node : order)
    for (const Edge& in : node->inputs)
      if (in.leaf && in.leaf->grad_ready_hook) ++contributions_left[in.leaf.get()];
  auto contribution_done = [&](TensorImpl* leaf) {
    auto left = contributions_left.find(leaf);
    if (left != contributions_left.end() && --left->second == 0) leaf->grad_ready_hook();
  };
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& node = **it;
    auto found = pending.find(&node);
    if (found == pending.end()) continue;  // no path from root carries a gradient here
    Tensor grad_out = found->second;
    pending.erase(found);
    if (!node.backward)
      throw std::logic_error("backward(): the graph through " + node.op +
                             " was already walked and its saved tensors freed (run the forward "
                             "pass again)");
    std::vector<bool> needs(node.inputs.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = node.inputs[i].requires_grad;
    std::vector<Tensor> grads(node.inputs.size());
    node.backward(grad_out, needs, grads);
    if (!retain_graph) node.backward = nullptr;  // frees the tensors this op saved
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!needs[i]) continue;
      const Edge& in = node.inputs[i];
      if (!grads[i].defined())
        throw std::logic_error(std::string("backward of ") + node.op +
                               " gave no gradient for input " + std::to_string(i));
      check_shape(grads[i], in.shape, node.op.c_str(), "input gradient");
      check_dtype(grads[i], in.dtype, node.op.c_str(), "input gradient");
      if (check_numerics())
        require_finite(grads[i], "the gradient of " + node.op + " for its input " + std::to_string(i));
      if (in.leaf) {
        accumulate_leaf(*in.leaf, grads[i]);
        contribution_done(in.leaf.get());
      } else {
        auto [slot, inserted] = pending.try_emplace(in.producer.get(), grads[i]);
        if (!inserted) slot->second = ops::add(slot->second, grads[i]);
      }
    }
  }
}

}  // namespace nnlab
