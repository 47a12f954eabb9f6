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

// Depth-first post-order over the graph of non-leaf tensors, without recursion so that deep
// graphs (many layers, many steps of a recurrent model) cannot overflow the stack.
std::vector<TensorImpl*> topological_order(TensorImpl* root) {
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> visited;
  std::vector<std::pair<TensorImpl*, size_t>> stack{{root, 0}};
  visited.insert(root);
  while (!stack.empty()) {
    auto& [impl, next_input] = stack.back();
    const auto& inputs = impl->grad_fn->inputs;
    if (next_input < inputs.size()) {
      TensorImpl* in = inputs[next_input++].impl_ptr().get();
      if (in && in->grad_fn && in->requires_grad && visited.insert(in).second)
        stack.push_back({in, 0});
    } else {
      order.push_back(impl);
      stack.pop_back();
    }
  }
  return order;  // inputs before the tensors computed from them
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
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl().grad_fn = std::move(node);
  out.impl().requires_grad = true;
  return out;
}

void run_backward(const Tensor& root, const Tensor& grad_root) {
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
    return;
  }
  std::unordered_map<TensorImpl*, Tensor> pending;  // gradients of non-leaf tensors
  pending[root.impl_ptr().get()] = seed;
  std::vector<TensorImpl*> order = topological_order(root.impl_ptr().get());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* impl = *it;
    auto found = pending.find(impl);
    if (found == pending.end()) continue;  // no path from root carries a gradient here
    Tensor grad_out = found->second;
    pending.erase(found);
    Node& node = *impl->grad_fn;
    std::vector<bool> needs(node.inputs.size());
    for (size_t i = 0; i < needs.size(); ++i)
      needs[i] = node.inputs[i].defined() && node.inputs[i].requires_grad();
    std::vector<Tensor> grads(node.inputs.size());
    node.backward(grad_out, needs, grads);
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!needs[i]) continue;
      const Tensor& in = node.inputs[i];
      if (!grads[i].defined())
        throw std::logic_error(std::string("backward of ") + node.op +
                               " gave no gradient for input " + std::to_string(i));
      check_shape(grads[i], in.shape(), node.op.c_str(), "input gradient");
      check_dtype(grads[i], in.dtype(), node.op.c_str(), "input gradient");
      if (check_numerics())
        require_finite(grads[i], "the gradient of " + node.op + " for its input " + std::to_string(i));
      if (!in.grad_fn()) {
        accumulate_leaf(in.impl(), grads[i]);
      } else {
        auto [slot, inserted] = pending.try_emplace(in.impl_ptr().get(), grads[i]);
        if (!inserted) slot->second = ops::add(slot->second, grads[i]);
      }
    }
  }
}

}  // namespace nnlab
