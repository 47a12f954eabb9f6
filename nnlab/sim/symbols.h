// What the observer needs from the running executable's own files, read once: the static
// __shared__ arrays of the observed kernels and the names of kernel functions (its symbol
// table), and the source line of a code address (its debug line table, through addr2line).
// Internal to the simulator.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nnlab/sim/observe.h"

namespace nnlab::sim::detail {

// A function-local `static thread_local` of the observed build: what __shared__ becomes.
struct SharedArray {
  uintptr_t tls_offset = 0;  // from the start of the executable's thread-local block
  size_t bytes = 0;
  std::string name;   // "a_tile"
  std::string owner;  // the function that declares it, demangled
};

struct ExecutableSymbols {
  std::string error;                       // "" when the table was read
  std::vector<SharedArray> shared_arrays;  // sorted by tls_offset
  uintptr_t anchor_offset = 0;             // TLS offset of nnlab::sim::current
  size_t tls_bytes = 0;                    // the executable's thread-local block
  // Demangled name of the observed build's function at this code address ("" if none).
  std::string function_at(const void* code) const;

  struct Function {
    uintptr_t address;  // link-time address
    std::string mangled;
  };
  std::vector<Function> functions;  // the observed build's, sorted by address
  uintptr_t load_bias = 0;
};
const ExecutableSymbols& executable_symbols();

// The start of this OS thread's copy of the executable's thread-local block.
uintptr_t thread_local_block();

// Source lines of code addresses in this process (return addresses of the access hooks), in
// the order given; "??" with line 0 where the debug information has none. Cached.
std::vector<SourceLine> source_lines(const std::vector<uintptr_t>& code);

// The loaded object (the executable or a shared library) holding a code address, and its
// load bias; false when none does.
struct Module {
  std::string path;
  uintptr_t bias;
};
bool module_of(uintptr_t code, Module* out);

// A source path relative to the project's source directory when it lies inside.
std::string project_relative(const std::string& path);

}  // namespace nnlab::sim::detail
