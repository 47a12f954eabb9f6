#include "nnlab/core/profiler.h"
#include "nnlab/optim/optimizer.h"

#include <sstream>
#include <stdexcept>

namespace nnlab::optim {

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)) {
  for (const Tensor& p : params_)
    if (!p.requires_grad())
      throw std::invalid_argument("optimizer given a parameter that does not require grad");
}

void Optimizer::zero_grad() {
  for (const Tensor& p : params_) p.set_grad(Tensor());
}

Sgd::Sgd(std::vector<Tensor> params, SgdParams p)
    : Optimizer(std::move(params)), p_(p), momentum_(params_.size()) {
  if (p.lr < 0) throw std::invalid_argument("SGD: negative learning rate " + std::to_string(p.lr));
  if (p.momentum < 0) throw std::invalid_argument("SGD: negative momentum");
  if (p.nesterov && (p.momentum <= 0 || p.dampening != 0))
    throw std::invalid_argument("SGD: Nesterov needs momentum > 0 and zero dampening");
}

void Sgd::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;  // a parameter the loss did not reach, as PyTorch skips it
    bool first = false;
    if (p_.momentum != 0 && !momentum_[i].defined()) {
      momentum_[i] = Tensor::empty(p.shape(), p.dtype(), p.backend());
      first = true;
    }
    OpScope op_scope(p.backend(), Op::SgdUpdate, p.dtype());
    p.backend().sgd_update(p, g, momentum_[i].defined() ? momentum_[i] : p, p_, first);
  }
}

std::string Sgd::describe() const {
  std::ostringstream os;
  os << "SGD(lr=" << p_.lr << ", momentum=" << p_.momentum << ", weight_decay=" << p_.weight_decay
     << (p_.nesterov ? ", nesterov" : "") << ")";
  return os.str();
}

Adam::Adam(std::vector<Tensor> params, AdamParams p) : Optimizer(std::move(params)), p_(p) {
  if (p.lr < 0) throw std::invalid_argument("Adam: negative learning rate " + std::to_string(p.lr));
  if (p.beta1 < 0 || p.beta1 >= 1 || p.beta2 < 0 || p.beta2 >= 1)
    throw std::invalid_argument("Adam: betas must be in [0, 1)");
  for (const Tensor& t : params_) {
    m_.push_back(Tensor::zeros(t.shape(), t.dtype(), t.backend()));
    v_.push_back(Tensor::zeros(t.shape(), t.dtype(), t.backend()));
  }
}

void Adam::step() {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    OpScope op_scope(p.backend(), Op::AdamUpdate, p.dtype());
    p.backend().adam_update(p, g, m_[i], v_[i], p_, step_);
  }
}

std::string Adam::describe() const {
  std::ostringstream os;
  os << "Adam(lr=" << p_.lr << ", betas=(" << p_.beta1 << ", " << p_.beta2 << "), eps=" << p_.eps
     << ", weight_decay=" << p_.weight_decay << ")";
  return os.str();
}

namespace {
// Copies `src` into `dst` after checking they match; the error names the state entry.
void restore(const std::string& name, const Tensor& src, const Tensor& dst) {
  check_shape(src, dst.shape(), "optimizer state", name.c_str());
  check_dtype(src, dst.dtype(), "optimizer state", name.c_str());
  dst.copy_from(src);
}

const Tensor& find(const std::vector<std::pair<std::string, Tensor>>& tensors,
                   const std::string& name) {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw std::invalid_argument("optimizer state: no entry \"" + name + "\"");
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Sgd::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < momentum_.size(); ++i)
    if (momentum_[i].defined()) out.emplace_back("momentum." + std::to_string(i), momentum_[i]);
  return out;
}

void Sgd::load_state(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t) {
  if (p_.momentum == 0 && !tensors.empty())  // they would sit unused, and be saved again
    throw std::invalid_argument("SGD with momentum 0 keeps no momentum buffers, the state holds " +
                                std::to_string(tensors.size()));
  for (const auto& [name, t] : tensors) {
    size_t i = params_.size();
    if (name.rfind("momentum.", 0) == 0 && name.size() > 9 &&
        name.find_first_not_of("0123456789", 9) == std::string::npos && name.size() < 19)
      i = std::stoul(name.substr(9));
    if (i >= params_.size())
      throw std::invalid_argument("SGD state: unexpected entry \"" + name + "\"");
    momentum_[i] = Tensor::empty(params_[i].shape(), params_[i].dtype(), params_[i].backend());
    restore(name, t, momentum_[i]);
  }
}

std::vector<std::pair<std::string, Tensor>> Adam::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < m_.size(); ++i) {
    out.emplace_back("m." + std::to_string(i), m_[i]);
    out.emplace_back("v." + std::to_string(i), v_[i]);
  }
  return out;
}

void Adam::load_state(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t steps) {
  for (size_t i = 0; i < m_.size(); ++i) {
    restore("m." + std::to_string(i), find(tensors, "m." + std::to_string(i)), m_[i]);
    restore("v." + std::to_string(i), find(tensors, "v." + std::to_string(i)), v_[i]);
  }
  if (tensors.size() != 2 * m_.size())
    throw std::invalid_argument("Adam state: " + std::to_string(tensors.size()) +
                                " entries, expected " + std::to_string(2 * m_.size()));
  step_ = steps;
}

}  // namespace nnlab::optim
