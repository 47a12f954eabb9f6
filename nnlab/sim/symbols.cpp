// The executable's symbol table and line table, for the observer (see symbols.h).
#include "nnlab/sim/symbols.h"

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

namespace nnlab::sim::detail {
namespace {
// The mangled form of the observed build's namespace, as it appears in its symbols.
constexpr const char* kObservedNamespace = "17cuda_sim_observed";
constexpr const char* kAnchor = "_ZN5nnlab3sim7currentE";  // nnlab::sim::current

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                                  &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

// The main program's load bias (0 unless it is position-independent).
uintptr_t main_program_bias() {
  uintptr_t bias = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        *static_cast<uintptr_t*>(out) = info->dlpi_addr;
        return 1;  // the first entry is the main program
      },
      &bias);
  return bias;
}

ExecutableSymbols read_symbols() {
  ExecutableSymbols out;
  out.load_bias = main_program_bias();
  int fd = open("/proc/self/exe", O_RDONLY);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    out.error = "cannot open /proc/self/exe";
    if (fd >= 0) close(fd);
    return out;
  }
  void* map = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) {
    out.error = "cannot map /proc/self/exe";
    return out;
  }
  const auto* base = static_cast<const unsigned char*>(map);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const auto* sections = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
  const auto* segments = reinterpret_cast<const Elf64_Phdr*>(base + eh->e_phoff);
  for (int i = 0; i < eh->e_phnum; ++i)
    if (segments[i].p_type == PT_TLS) out.tls_bytes = segments[i].p_memsz;
  bool anchor_found = false;
  for (int i = 0; i < eh->e_shnum; ++i) {
    if (sections[i].sh_type != SHT_SYMTAB) continue;
    const auto* symbols = reinterpret_cast<const Elf64_Sym*>(base + sections[i].sh_offset);
    const char* names = reinterpret_cast<const char*>(base + sections[sections[i].sh_link].sh_offset);
    size_t count = sections[i].sh_size / sizeof(Elf64_Sym);
    for (size_t s = 0; s < count; ++s) {
      const char* name = names + symbols[s].st_name;
      int type = ELF64_ST_TYPE(symbols[s].st_info);
      if (type == STT_TLS && std::strcmp(name, kAnchor) == 0) {
        out.anchor_offset = symbols[s].st_value;
        anchor_found = true;
      } else if (type == STT_TLS && std::strstr(name, kObservedNamespace)) {
        std::string full = demangle(name);
        size_t cut = full.rfind("::");
        out.shared_arrays.push_back({symbols[s].st_value, symbols[s].st_size,
                                     cut == std::string::npos ? full : full.substr(cut + 2),
                                     cut == std::string::npos ? "" : full.substr(0, cut)});
      } else if (type == STT_FUNC && std::strstr(name, kObservedNamespace)) {
        out.functions.push_back({symbols[s].st_value, name});
      }
    }
  }
  munmap(map, size_t(st.st_size));
  if (!anchor_found)
    out.error = "the executable has no symbol table (stripped?): the observer cannot find shared memory";
  std::sort(out.shared_arrays.begin(), out.shared_arrays.end(),
            [](const SharedArray& a, const SharedArray& b) { return a.tls_offset < b.tls_offset; });
  std::sort(out.functions.begin(), out.functions.end(),
            [](const ExecutableSymbols::Function& a, const ExecutableSymbols::Function& b) {
              return a.address < b.address;
            });
  return out;
}
}  // namespace

const ExecutableSymbols& executable_symbols() {
  static const ExecutableSymbols symbols = read_symbols();
  return symbols;
}

std::string ExecutableSymbols::function_at(const void* code) const {
  uintptr_t address = reinterpret_cast<uintptr_t>(code) - load_bias;
  auto it = std::lower_bound(functions.begin(), functions.end(), address,
                             [](const Function& f, uintptr_t a) { return f.address < a; });
  return it != functions.end() && it->address == address ? demangle(it->mangled.c_str()) : "";
}

uintptr_t thread_local_block() {
  return reinterpret_cast<uintptr_t>(&current) - executable_symbols().anchor_offset;
}

std::string project_relative(const std::string& path) {
  static const std::string root = std::string(NNLAB_SOURCE_DIR) + "/";
  return path.compare(0, root.size(), root) == 0 ? path.substr(root.size()) : path;
}

namespace {
// The running executable's path (addr2line runs in its own process: /proc/self/exe is not ours).
std::string executable_path() {
  static const std::string path = [] {
    char buffer[4096];
    ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    return n > 0 ? std::string(buffer, size_t(n)) : std::string("/proc/self/exe");
  }();
  return path;
}

}  // namespace

bool module_of(uintptr_t code, Module* out) {
  struct Query {
    uintptr_t code;
    Module* out;
    bool found;
  } q{code, out, false};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* q = static_cast<Query*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const auto& ph = info->dlpi_phdr[i];
          uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && q->code >= lo && q->code < lo + ph.p_memsz) {
            q->out->path = info->dlpi_name[0] ? info->dlpi_name : executable_path();
            q->out->bias = info->dlpi_addr;
            q->found = true;
            return 1;
          }
        }
        return 0;
      },
      &q);
  return q.found;
}

namespace {
std::mutex g_lines_mutex;
std::map<uintptr_t, SourceLine> g_lines;  // cache

// addr2line over a batch of addresses of one module; the return address minus one lies in
// the call instruction, whose line is the access's.
void resolve(const Module& m, const std::vector<uintptr_t>& code) {
  char input[] = "/tmp/nnlab_sim_addresses_XXXXXX";
  int fd = mkstemp(input);
  if (fd < 0) return;
  std::string text;
  for (uintptr_t c : code) {
    char line[32];
    std::snprintf(line, sizeof line, "%lx\n", static_cast<unsigned long>(c - 1 - m.bias));
    text += line;
  }
  bool written = write(fd, text.data(), text.size()) == ssize_t(text.size());
  close(fd);
  std::string command = "addr2line -a -e '" + m.path + "' < " + input + " 2>/dev/null";
  FILE* pipe = written ? popen(command.c_str(), "r") : nullptr;
  if (pipe) {
    char buffer[4096];
    size_t index = 0;
    bool expect_location = false;
    while (std::fgets(buffer, sizeof buffer, pipe) && index < code.size()) {
      std::string line(buffer);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (!expect_location) {  // "0x..." echoes the address
        expect_location = line.rfind("0x", 0) == 0;
        continue;
      }
      expect_location = false;
      std::string where = line.substr(0, line.find(" (discriminator"));
      size_t colon = where.rfind(':');
      SourceLine s;
      s.file = project_relative(colon == std::string::npos ? where : where.substr(0, colon));
      s.line = colon == std::string::npos ? 0 : std::atoi(where.c_str() + colon + 1);
      g_lines[code[index++]] = s;
    }
    pclose(pipe);
  }
  unlink(input);
}
}  // namespace

std::vector<SourceLine> source_lines(const std::vector<uintptr_t>& code) {
  std::lock_guard<std::mutex> lock(g_lines_mutex);
  std::map<std::string, std::pair<Module, std::vector<uintptr_t>>> missing;
  for (uintptr_t c : code) {
    if (g_lines.count(c)) continue;
    Module m;
    if (!module_of(c, &m)) {
      g_lines[c] = {"??", 0};
      continue;
    }
    auto& batch = missing[m.path];
    batch.first = m;
    if (batch.second.empty() || batch.second.back() != c) batch.second.push_back(c);
  }
  for (auto& [path, batch] : missing) resolve(batch.first, batch.second);
  std::vector<SourceLine> out;
  out.reserve(code.size());
  for (uintptr_t c : code) {
    auto it = g_lines.find(c);
    out.push_back(it != g_lines.end() ? it->second : SourceLine{"??", 0});
  }
  return out;
}

}  // namespace nnlab::sim::detail
