#include "nnlab/core/numerics.h"

#include <cmath>
#include <sstream>

namespace nnlab {
namespace {
bool g_check_numerics = false;  // ops run on the training thread only

template <typename T> std::string first_bad(const std::vector<T>& values) {
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) {
      std::ostringstream os;
      os << "[" << i << "] = " << values[i];
      return os.str();
    }
  return "";
}
}  // namespace

void set_check_numerics(bool on) { g_check_numerics = on; }
bool check_numerics() { return g_check_numerics; }

std::string first_non_finite(const Tensor& t) {
  if (t.dtype() == DType::F32) return first_bad(t.to_host<float>());
  if (!is_floating(t.dtype())) return "";
  return first_bad(t.to_host_doubles());  // float64, and the 16-bit floats widened exactly
}

void require_finite(const Tensor& t, const std::string& what) {
  std::string bad = first_non_finite(t);
  if (!bad.empty())
    throw NumericsError(what + " holds a non-finite value: " + t.shape().str() + bad);
}

}  // namespace nnlab
