// The instructions of the observed kernels' basic blocks (see instructions.h): objdump over the
// code around the blocks, each block read from its first instruction to the next coverage
// call (the next block) or an unconditional jump or return.
#include "nnlab/sim/instructions.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "nnlab/sim/symbols.h"

namespace nnlab::sim::detail {
namespace {
bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// "%eax,%eax" and "%xmm0,%xmm0": an instruction whose two operands are one register.
bool same_register_twice(const std::string& operands) {
  size_t comma = operands.find(',');
  return comma != std::string::npos && operands[0] == '%' && operands.substr(0, comma) == operands.substr(comma + 1);
}

// Scalar floating-point arithmetic: v?(op)(ss|sd), op one of these, FMA forms included.
InstructionClass float_class(const std::string& m) {
  std::string op = m[0] == 'v' && m.size() > 3 ? m.substr(1) : m;
  if (op.size() < 4 || (op.compare(op.size() - 2, 2, "ss") != 0 && op.compare(op.size() - 2, 2, "sd") != 0))
    return InstructionClass::NotCounted;
  op = op.substr(0, op.size() - 2);
  if (op == "mul") return InstructionClass::FloatMultiply;
  if (op == "add" || op == "sub") return InstructionClass::FloatAdd;
  if (op == "div" || op == "sqrt" || op == "min" || op == "max" || starts_with(op, "fmadd") ||
      starts_with(op, "fmsub") || starts_with(op, "fnmadd") || starts_with(op, "fnmsub"))
    return InstructionClass::FloatOther;
  return InstructionClass::NotCounted;  // movss, movsd and the like
}

struct Instruction {
  uint64_t address;
  std::string mnemonic, operands;
};

// objdump -d of [lo, hi) of a module, in link-time addresses.
std::vector<Instruction> disassemble(const std::string& path, uint64_t lo, uint64_t hi, std::string* error) {
  char command[1024];
  std::snprintf(command, sizeof command,
                "objdump -d --no-show-raw-insn -w --start-address=0x%llx --stop-address=0x%llx '%s' 2>/dev/null",
                static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi), path.c_str());
  std::vector<Instruction> out;
  FILE* pipe = popen(command, "r");
  if (!pipe) {
    *error = "cannot run objdump (binutils), which the simulator's instruction counts need";
    return out;
  }
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) {
    // "  4011a5:\tadd    %eax,%ebx" (a tab after the colon, then mnemonic, spaces, operands)
    std::string line(buffer);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    size_t colon = line.find(":\t");
    if (colon == std::string::npos) continue;
    size_t begin = line.find_first_not_of(' ');
    if (begin >= colon) continue;
    std::string hex = line.substr(begin, colon - begin);
    if (hex.find_first_not_of("0123456789abcdef") != std::string::npos) continue;  // a label line
    uint64_t address = std::strtoull(hex.c_str(), nullptr, 16);
    std::string text = line.substr(colon + 2);
    size_t space = text.find(' ');
    std::string mnemonic = text.substr(0, space), operands;
    if (space != std::string::npos) {
      size_t from = text.find_first_not_of(' ', space);
      if (from != std::string::npos) operands = text.substr(from);
    }
    // Prefixes objdump prints as words: take the instruction after them.
    while ((mnemonic == "lock" || mnemonic == "rep" || mnemonic == "repz" || mnemonic == "repnz" ||
            mnemonic == "notrack" || mnemonic == "bnd" || mnemonic == "data16" || mnemonic == "cs" ||
            mnemonic == "ds") &&
           !operands.empty()) {
      size_t next = operands.find(' ');
      mnemonic = operands.substr(0, next);
      operands = next == std::string::npos ? "" : operands.substr(operands.find_first_not_of(' ', next));
    }
    out.push_back({address, mnemonic, operands});
  }
  int status = pclose(pipe);
  if (out.empty() || status != 0) *error = "objdump (binutils) gave no disassembly of " + path + "; the simulator's instruction counts need it";
  return out;
}

std::mutex g_mutex;
std::map<uintptr_t, BlockInstructions> g_cache;  // by the block's first code address (run time)
std::string g_error;                              // why blocks were left uncounted, if they were
}  // namespace

InstructionClass classify(const std::string& m, const std::string& operands) {
  if (starts_with(m, "call")) return operands.find("__sanitizer_cov_trace_pc") != std::string::npos
                                         ? InstructionClass::BlockEnd
                                         : InstructionClass::NotCounted;
  if (starts_with(m, "ret") || m == "ud2" || m == "hlt") return InstructionClass::BlockEnd;
  if (starts_with(m, "jmp")) return InstructionClass::Branch;
  InstructionClass f = float_class(m);
  if (f != InstructionClass::NotCounted) return f;
  if (starts_with(m, "mov") || starts_with(m, "vmov") || starts_with(m, "lea") || starts_with(m, "push") ||
      starts_with(m, "pop") || starts_with(m, "nop") || starts_with(m, "xchg") || starts_with(m, "endbr") ||
      m == "cltq" || m == "cltd" || m == "cqto" || m == "cwtl" || m == "cdqe" || m == "vzeroupper" ||
      starts_with(m, "prefetch"))
    return InstructionClass::NotCounted;
  if ((m == "xor" || m == "xorl" || m == "xorq" || m == "pxor" || m == "vpxor" || m == "xorps" || m == "vxorps" ||
       m == "xorpd" || m == "vxorpd" || m == "sub" || m == "subl" || m == "subq") &&
      same_register_twice(operands))
    return InstructionClass::NotCounted;  // zeroing a register
  if (starts_with(m, "div") || starts_with(m, "idiv")) return InstructionClass::Division;
  return InstructionClass::Integer;
}

std::vector<BlockInstructions> basic_block_instructions(const std::vector<uintptr_t>& code, std::string* unavailable) {
  std::lock_guard<std::mutex> lock(g_mutex);
  // The blocks not yet known, per module, in link-time addresses.
  std::map<std::string, std::pair<Module, std::vector<uintptr_t>>> missing;
  for (uintptr_t c : code) {
    if (g_cache.count(c)) continue;
    Module m;
    if (!module_of(c, &m)) {
      g_cache[c] = {};
      continue;
    }
    auto& batch = missing[m.path];
    batch.first = m;
    batch.second.push_back(c);
  }
  for (auto& [path, batch] : missing) {
    std::vector<uintptr_t>& blocks = batch.second;
    std::sort(blocks.begin(), blocks.end());
    // Neighbouring blocks share one disassembly (a kernel's blocks lie within a few KiB).
    constexpr uint64_t kGap = 64 * 1024, kBlockBytes = 16 * 1024;
    for (size_t first = 0; first < blocks.size();) {
      size_t last = first;
      while (last + 1 < blocks.size() && blocks[last + 1] - blocks[last] < kGap) ++last;
      uint64_t lo = blocks[first] - batch.first.bias, hi = blocks[last] - batch.first.bias + kBlockBytes;
      std::vector<Instruction> code_seen = disassemble(path, lo, hi, &g_error);
      for (size_t b = first; b <= last; ++b) {
        uint64_t start = blocks[b] - batch.first.bias;
        auto it = std::lower_bound(code_seen.begin(), code_seen.end(), start,
                                   [](const Instruction& i, uint64_t a) { return i.address < a; });
        uint32_t integer = 0, multiplies = 0, adds = 0, other_float = 0;
        for (; it != code_seen.end(); ++it) {
          InstructionClass k = classify(it->mnemonic, it->operands);
          if (k == InstructionClass::BlockEnd) break;
          if (k == InstructionClass::Integer || k == InstructionClass::Branch) ++integer;
          if (k == InstructionClass::Division) integer += kIntegerDivisionInstructions;
          if (k == InstructionClass::FloatMultiply) ++multiplies;
          if (k == InstructionClass::FloatAdd) ++adds;
          if (k == InstructionClass::FloatOther) ++other_float;
          if (k == InstructionClass::Branch) break;  // an unconditional jump ends the block
        }
        BlockInstructions w;
        w.fp32 = multiplies + adds + other_float - std::min(multiplies, adds);
        w.alu = integer + w.fp32;
        g_cache[blocks[b]] = w;
      }
      first = last + 1;
    }
  }
  if (unavailable) *unavailable = g_error;
  std::vector<BlockInstructions> out;
  out.reserve(code.size());
  for (uintptr_t c : code) out.push_back(g_cache[c]);
  return out;
}

}  // namespace nnlab::sim::detail
