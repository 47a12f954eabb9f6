// The observer of the observed kernels (observe.h, observer.h): recording, grouping into
// requests, counting, memcheck, racecheck and initcheck.
#include "nnlab/sim/observe.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "nnlab/sim/instructions.h"
#include "nnlab/sim/observer.h"
#include "nnlab/sim/symbols.h"

namespace nnlab::sim {

// ---------------------------------------------------------------------------- counters
MemoryCounters& MemoryCounters::operator+=(const MemoryCounters& o) {
  requests += o.requests, lanes += o.lanes, bytes += o.bytes, transactions += o.transactions, ideal += o.ideal;
  l1_wavefronts += o.l1_wavefronts, half_warp_wavefronts += o.half_warp_wavefronts;
  return *this;
}
bool MemoryCounters::operator==(const MemoryCounters& o) const {
  return requests == o.requests && lanes == o.lanes && bytes == o.bytes && transactions == o.transactions &&
         ideal == o.ideal && l1_wavefronts == o.l1_wavefronts && half_warp_wavefronts == o.half_warp_wavefronts;
}
Counters& Counters::operator+=(const Counters& o) {
  for (int s = 0; s < 2; ++s)
    for (int k = 0; k < 3; ++k) memory[s][k] += o.memory[s][k];
  barriers += o.barriers, barrier_lanes += o.barrier_lanes, block_barriers += o.block_barriers;
  warp_operations += o.warp_operations;
  basic_blocks += o.basic_blocks, basic_block_lanes += o.basic_block_lanes;
  alu_instructions += o.alu_instructions, fp32_instructions += o.fp32_instructions;
  block_sectors += o.block_sectors;
  return *this;
}
bool Counters::operator==(const Counters& o) const {
  for (int s = 0; s < 2; ++s)
    for (int k = 0; k < 3; ++k)
      if (!(memory[s][k] == o.memory[s][k])) return false;
  return barriers == o.barriers && barrier_lanes == o.barrier_lanes && block_barriers == o.block_barriers &&
         warp_operations == o.warp_operations && basic_blocks == o.basic_blocks &&
         basic_block_lanes == o.basic_block_lanes && alu_instructions == o.alu_instructions &&
         fp32_instructions == o.fp32_instructions && block_sectors == o.block_sectors;
}
double per_request(const MemoryCounters& c) { return c.requests ? double(c.transactions) / double(c.requests) : 0; }
double ideal_per_request(const MemoryCounters& c) { return c.requests ? double(c.ideal) / double(c.requests) : 0; }
double lanes_per_request(const MemoryCounters& c) { return c.requests ? double(c.lanes) / double(c.requests) : 0; }
uint64_t bank_conflicts(const MemoryCounters& shared) { return shared.transactions - shared.ideal; }
uint64_t warp_instructions(const Counters& c) {
  uint64_t memory = 0;
  for (int s = 0; s < 2; ++s)
    for (int k = 0; k < 3; ++k) memory += c.memory[s][k].requests;
  return c.alu_instructions + memory + c.barriers + c.warp_operations;
}

std::string unqualified_name(const std::string& signature) {
  std::string s = signature;
  for (size_t at; (at = s.find("(anonymous namespace)")) != std::string::npos;) s.erase(at, 21);
  s = s.substr(0, s.find('('));  // before the parameters
  if (!s.empty() && s.back() == '>') {  // template arguments
    int depth = 0;
    size_t i = s.size();
    while (i-- > 0) {
      depth += s[i] == '>' ? 1 : s[i] == '<' ? -1 : 0;
      if (depth == 0) break;
    }
    s = s.substr(0, i);
  }
  size_t colon = s.rfind("::"), space = s.rfind(' ');
  size_t cut = colon != std::string::npos ? colon + 2 : space != std::string::npos ? space + 1 : 0;
  return s.substr(cut);
}

std::vector<MetricValue> metric_values(const Counters& c) {
  const MemoryCounters &gld = c.at(Space::Global, AccessOp::Load), &gst = c.at(Space::Global, AccessOp::Store),
                       &sld = c.at(Space::Shared, AccessOp::Load), &sst = c.at(Space::Shared, AccessOp::Store);
  MemoryCounters all;
  for (int s = 0; s < 2; ++s)
    for (int k = 0; k < 3; ++k) all += c.memory[s][k];
  uint64_t atomics = c.at(Space::Global, AccessOp::Atomic).requests + c.at(Space::Shared, AccessOp::Atomic).requests;
  return {{"global_load_requests", double(gld.requests)},
          {"global_load_sectors_per_request", per_request(gld)},
          {"global_load_ideal_sectors_per_request", ideal_per_request(gld)},
          {"global_store_requests", double(gst.requests)},
          {"global_store_sectors_per_request", per_request(gst)},
          {"global_store_ideal_sectors_per_request", ideal_per_request(gst)},
          {"shared_load_requests", double(sld.requests)},
          {"shared_load_wavefronts_per_request", per_request(sld)},
          {"shared_load_ideal_wavefronts_per_request", ideal_per_request(sld)},
          {"shared_store_requests", double(sst.requests)},
          {"shared_store_wavefronts_per_request", per_request(sst)},
          {"shared_store_ideal_wavefronts_per_request", ideal_per_request(sst)},
          {"shared_bank_conflicts", double(bank_conflicts(sld) + bank_conflicts(sst))},
          {"active_lanes_per_request", lanes_per_request(all)},
          {"barriers", double(c.barriers)},
          {"active_lanes_per_barrier", c.barriers ? double(c.barrier_lanes) / double(c.barriers) : 0},
          {"atomics", double(atomics)},
          {"global_l1_wavefronts", double(c.at(Space::Global, AccessOp::Load).l1_wavefronts +
                                          c.at(Space::Global, AccessOp::Store).l1_wavefronts)},
          {"warp_instructions", double(warp_instructions(c))},
          {"fp32_warp_instructions", double(c.fp32_instructions)},
          {"active_lanes_per_basic_block", c.basic_blocks ? double(c.basic_block_lanes) / double(c.basic_blocks) : 0}};
}

std::string metrics_line(const Counters& c) {
  auto part = [](const char* what, const MemoryCounters& m, const char* unit) {
    char text[160];
    if (m.requests == 0) return std::string(what) + " 0";
    std::snprintf(text, sizeof text, "%s %llu req x %.2f %s (ideal %.2f)", what,
                  static_cast<unsigned long long>(m.requests), per_request(m), unit, ideal_per_request(m));
    return std::string(text);
  };
  const MemoryCounters &sld = c.at(Space::Shared, AccessOp::Load), &sst = c.at(Space::Shared, AccessOp::Store);
  MemoryCounters all;
  for (int s = 0; s < 2; ++s)
    for (int k = 0; k < 3; ++k) all += c.memory[s][k];
  char tail[200];
  std::snprintf(tail, sizeof tail, "; %llu bank conflicts; %.1f lanes/req; %llu barriers (%.1f lanes); %llu atomics",
                static_cast<unsigned long long>(bank_conflicts(sld) + bank_conflicts(sst)), lanes_per_request(all),
                static_cast<unsigned long long>(c.barriers),
                c.barriers ? double(c.barrier_lanes) / double(c.barriers) : 0.0,
                static_cast<unsigned long long>(c.at(Space::Global, AccessOp::Atomic).requests +
                                                c.at(Space::Shared, AccessOp::Atomic).requests));
  return "global " + part("ld", c.at(Space::Global, AccessOp::Load), "sectors") + ", " +
         part("st", c.at(Space::Global, AccessOp::Store), "sectors") + "; shared " + part("ld", sld, "wavefronts") +
         ", " + part("st", sst, "wavefronts") + tail;
}

std::string occupancy_line(const OccupancyReport& r) {
  if (r.architectures.empty()) return "occupancy " + r.unavailable;
  std::string out = "occupancy";
  for (const Occupancy& o : r.architectures)
    out += " " + o.arch + " " + std::to_string(int(o.fraction() * 100 + 0.5)) + "%";
  const Occupancy& last = r.architectures.back();
  out += " (" + last.arch + ": " + std::to_string(last.resources.registers) + " registers, " +
         std::to_string(last.resources.static_shared_bytes) + " B static shared, " +
         std::to_string(last.blocks_per_sm) + " blocks/SM, limited by " + last.limited_by + ")";
  return out;
}

std::vector<std::pair<SourceLine, Counters>> LaunchMetrics::by_line() const {
  std::vector<uintptr_t> code;
  for (const Site& s : sites)
    if (s.code) code.push_back(s.code);
  std::vector<SourceLine> lines = detail::source_lines(code);
  std::map<SourceLine, Counters> merged;
  size_t next = 0;
  for (const Site& s : sites)
    merged[s.code ? lines[next++] : SourceLine{detail::project_relative(s.file), s.line}] += s.counters;
  return {merged.begin(), merged.end()};
}

// --------------------------------------------------------------------------- recording
namespace {
std::atomic<Recording*> g_recording{nullptr};
}
namespace detail {
void drop_all_shadows();
}

Recording::Recording(Checks checks) : checks_(checks) {
  std::string why = observation_unavailable_reason();
  if (!why.empty()) throw SimError("cannot observe the simulator's kernels: " + why);
  Recording* expected = nullptr;
  if (!g_recording.compare_exchange_strong(expected, this))
    throw SimError("a sim::Recording is already active (one at a time)");
}
Recording::~Recording() {
  g_recording = nullptr;
  // Without a Recording nothing reads the shadows: stop tracking (and plain launches stop
  // paying for it).
  if (checks_.initcheck) detail::drop_all_shadows();
}
Recording* Recording::active() { return g_recording.load(); }

std::string observation_unavailable_reason() {
#ifdef NNLAB_SIM_OBSERVATION_UNAVAILABLE
  return NNLAB_SIM_OBSERVATION_UNAVAILABLE;
#else
  return detail::executable_symbols().error;
#endif
}

namespace detail {
// ------------------------------------------------------------------- initcheck shadows
// One bit per byte of an allocation: set once something wrote the byte. Updated with atomic
// ORs; during a launch only host threads outside it and the launch's end write to it.
struct Shadow {
  explicit Shadow(size_t bytes) : bits((bytes + 63) / 64) {}
  std::vector<uint64_t> bits;
  bool test(size_t byte) const {
    return __atomic_load_n(&bits[byte / 64], __ATOMIC_RELAXED) >> (byte % 64) & 1;
  }
  bool all(size_t offset, size_t n) const {
    for (size_t b = offset; b < offset + n; ++b)
      if (!test(b)) return false;
    return true;
  }
  void set(size_t offset, size_t n) {
    for (size_t b = offset; b < offset + n; ++b) __atomic_fetch_or(&bits[b / 64], uint64_t(1) << (b % 64), __ATOMIC_RELAXED);
  }
};

namespace {
struct AllocationRecord {
  size_t bytes;
  uint64_t id;
  std::shared_ptr<Shadow> shadow;
};
std::mutex g_allocations_mutex;
std::map<uintptr_t, AllocationRecord> g_allocations;
uint64_t g_next_allocation = 0;
std::atomic<int> g_shadows{0};

// The allocation holding [p, p + bytes) (the caller holds the mutex), or null.
AllocationRecord* record_of(const void* p, uintptr_t* start) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocations.upper_bound(a);
  if (it == g_allocations.begin()) return nullptr;
  --it;
  if (a >= it->first + std::max<size_t>(it->second.bytes, 1)) return nullptr;
  *start = it->first;
  return &it->second;
}

void drop_shadow(AllocationRecord& r) {
  if (r.shadow) --g_shadows, r.shadow.reset();
}
}  // namespace

void allocation_created(void* ptr, size_t bytes) {
  Recording* r = Recording::active();
  std::lock_guard<std::mutex> lock(g_allocations_mutex);
  AllocationRecord rec{bytes, ++g_next_allocation, nullptr};
  if (r && r->checks().initcheck) rec.shadow = std::make_shared<Shadow>(bytes), ++g_shadows;
  g_allocations[reinterpret_cast<uintptr_t>(ptr)] = std::move(rec);
}

void allocation_freed(void* ptr) {
  std::lock_guard<std::mutex> lock(g_allocations_mutex);
  auto it = g_allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == g_allocations.end()) return;
  drop_shadow(it->second);
  g_allocations.erase(it);
}

bool initcheck_tracking() { return g_shadows.load(std::memory_order_relaxed) > 0; }

void drop_all_shadows() {
  std::lock_guard<std::mutex> lock(g_allocations_mutex);
  for (auto& [start, rec] : g_allocations) drop_shadow(rec);
}
}  // namespace detail

void note_device_write(void* dst, size_t bytes, const void* src_device) {
  if (!detail::initcheck_tracking() || bytes == 0) return;
  std::lock_guard<std::mutex> lock(detail::g_allocations_mutex);
  uintptr_t dst_start = 0, src_start = 0;
  detail::AllocationRecord* d = detail::record_of(dst, &dst_start);
  if (!d || !d->shadow) return;
  size_t offset = reinterpret_cast<uintptr_t>(dst) - dst_start;
  bytes = std::min(bytes, d->bytes - offset);
  detail::AllocationRecord* s = src_device ? detail::record_of(src_device, &src_start) : nullptr;
  if (src_device && s && s->shadow) {  // a device-to-device copy carries what was initialised
    size_t from = reinterpret_cast<uintptr_t>(src_device) - src_start;
    for (size_t b = 0; b < bytes && from + b < s->bytes; ++b)
      if (s->shadow->test(from + b)) d->shadow->set(offset + b, 1);
    return;
  }
  d->shadow->set(offset, bytes);
}

void note_unobserved_argument(const void* ptr) {
  if (!detail::initcheck_tracking()) return;
  std::lock_guard<std::mutex> lock(detail::g_allocations_mutex);
  uintptr_t start = 0;
  if (detail::AllocationRecord* r = detail::record_of(ptr, &start)) detail::drop_shadow(*r);
}

void observe_atomic(const void* address, size_t bytes) {
  if (detail::BlockObserver* o = detail::t_observer)
    o->record(reinterpret_cast<uintptr_t>(address), unsigned(bytes), AccessOp::Atomic,
              reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
}

namespace detail {
thread_local BlockObserver* t_observer = nullptr;

// Allocations begin on 256-byte boundaries: sector s of one is bytes [32 s, 32 s + 32).
size_t sectors_of(const AllocationView& v) { return (v.end - v.start + 31) / 32; }

namespace {
std::string dims(unsigned x, unsigned y, unsigned z) {
  return "(" + std::to_string(x) + ", " + std::to_string(y) + ", " + std::to_string(z) + ")";
}
const char* op_name(AccessOp op) { return op == AccessOp::Load ? "read" : op == AccessOp::Store ? "write" : "atomic"; }
std::string hex(uintptr_t a) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%lx", static_cast<unsigned long>(a));
  return text;
}
}  // namespace

bool Finding::operator<(const Finding& o) const {
  return std::tie(tool, block, thread, code, other_code, what) <
         std::tie(o.tool, o.block, o.thread, o.code, o.other_code, o.what);
}

std::unique_ptr<LaunchObserver> observe_launch(const LaunchSite& site, const void* kernel, dim3 grid, dim3 block,
                                               size_t dynamic_shared) {
  Recording* r = Recording::active();
  if (!site.observed || !r) return nullptr;
  return std::make_unique<LaunchObserver>(site, kernel, grid, block, dynamic_shared, *r);
}

LaunchObserver::LaunchObserver(const LaunchSite& site, const void* kernel, dim3 grid, dim3 block,
                               size_t dynamic_shared, Recording& recording)
    : recording_(recording), kernel_(kernel), checks_(recording.checks()) {
  metrics_.kernel = site.kernel;
  metrics_.launch_site = project_relative(site.file) + ":" + std::to_string(site.line);
  metrics_.label = recording.label ? recording.label() : "";
  metrics_.grid = grid;
  metrics_.block = block;
  metrics_.dynamic_shared_bytes = dynamic_shared;
  const ExecutableSymbols& symbols = executable_symbols();
  std::string function = symbols.function_at(kernel);
  metrics_.function = kernel_signature_key(function);
  // The kernel's shared window: its own arrays and those of __device__ helpers (which every
  // kernel calling them gets its copy of on a GPU), not other kernels'.
  static const std::set<std::string> kernels = [] {
    std::set<std::string> names;
    for (const KernelSource& k : kernel_sources()) names.insert(k.name);
    return names;
  }();
  // A template's local static names its function without the return type (a kernel's: void).
  std::string owner = function.rfind("void ", 0) == 0 ? function.substr(5) : function;
  for (const SharedArray& a : symbols.shared_arrays)
    if (a.owner == owner || !kernels.count(unqualified_name(a.owner))) {
      window_.push_back({a.tls_offset, a.bytes});
      window_names_.push_back(&a.name);
    }
  std::lock_guard<std::mutex> lock(g_allocations_mutex);
  for (auto& [start, rec] : g_allocations) {
    allocations_.push_back({start, start + rec.bytes, rec.id, rec.shadow.get()});
    if (rec.shadow) shadows_.push_back(rec.shadow);
  }
  footprint_ = std::make_unique<Footprint>(allocations_.size());
}

LaunchObserver::Footprint::Footprint(size_t n)
    : allocations(n), loaded(new std::atomic<uint64_t*>[n]), stored(new std::atomic<uint64_t*>[n]) {
  for (size_t a = 0; a < n; ++a) loaded[a] = nullptr, stored[a] = nullptr;
}

LaunchObserver::Footprint::~Footprint() {
  for (size_t a = 0; a < allocations; ++a) delete[] loaded[a].load(), delete[] stored[a].load();
}

uint64_t* LaunchObserver::Footprint::bits(std::atomic<uint64_t*>* which, size_t a, size_t sectors) {
  uint64_t* b = which[a].load(std::memory_order_acquire);
  if (b) return b;
  auto* made = new uint64_t[(sectors + 63) / 64]();
  if (which[a].compare_exchange_strong(b, made, std::memory_order_acq_rel)) return made;
  delete[] made;  // another OS thread was first
  return b;
}

uint64_t LaunchObserver::Footprint::count(std::atomic<uint64_t*>* which,
                                          const std::vector<AllocationView>& views) const {
  uint64_t n = 0;
  for (size_t a = 0; a < allocations; ++a)
    if (const uint64_t* b = which[a].load())
      for (size_t w = 0; w < (sectors_of(views[a]) + 63) / 64; ++w) n += uint64_t(__builtin_popcountll(b[w]));
  return n;
}

std::string LaunchObserver::thread_name(uint64_t block, unsigned thread) const {
  dim3 g = metrics_.grid;
  return "block " + dims(unsigned(block % g.x), unsigned(block / g.x % g.y), unsigned(block / g.x / g.y)) + " " +
         thread_in_block(thread);
}

std::string LaunchObserver::thread_in_block(unsigned thread) const {
  dim3 b = metrics_.block;
  return "thread " + dims(thread % b.x, thread / b.x % b.y, thread / b.x / b.y);
}

// ----------------------------------------------------------------------- block observer
BlockObserver::BlockObserver(LaunchObserver& launch)
    : launch_(launch), checks_(launch.checks_), eager_(!checks_.racecheck && !checks_.initcheck) {
  code_base_ = executable_symbols().load_bias;
  tls_lo_ = thread_local_block();
  tls_bytes_ = executable_symbols().tls_bytes;
  anchor_ = reinterpret_cast<uintptr_t>(&current);
  for (size_t i = 0; i < launch.window_.size(); ++i)
    shared_arrays_.push_back({tls_lo_ + launch.window_[i].first, tls_lo_ + launch.window_[i].first + launch.window_[i].second,
                              launch.window_names_[i]});
  std::sort(shared_arrays_.begin(), shared_arrays_.end(), [](const Region& a, const Region& b) { return a.lo < b.lo; });
}

BlockObserver::~BlockObserver() { launch_.merge(*this); }

void BlockObserver::begin_block(uint64_t block_linear, size_t threads, void* dynamic_shared) {
  block_ = block_linear;
  threads_ = threads;
  dynamic_lo_ = reinterpret_cast<uintptr_t>(dynamic_shared);
  dynamic_bytes_ = launch_.metrics_.dynamic_shared_bytes;
  if (logs_.size() < threads) logs_.resize(threads);
  for (auto& log : logs_) log.clear();
  epochs_.assign(threads, 0);
  ended_.assign(threads, 0);
  arrived_.assign((threads + 31) / 32, 0);
  block_written_.clear();
}

const AllocationView* BlockObserver::find_allocation(uintptr_t a) {
  const auto& all = launch_.allocations_;
  if (last_allocation_ < all.size()) {
    const AllocationView& v = all[last_allocation_];
    if (a + kRedZone >= v.start && a < v.end + kRedZone) return &v;
  }
  auto it = std::upper_bound(all.begin(), all.end(), a + kRedZone,
                             [](uintptr_t x, const AllocationView& v) { return x < v.start; });
  if (it == all.begin()) return nullptr;
  --it;
  if (a >= it->end + kRedZone) {
    // Past this one's red zone: perhaps in the red zone before the next.
    ++it;
    if (it == all.end() || a + kRedZone < it->start) return nullptr;
  }
  last_allocation_ = size_t(it - all.begin());
  return &*it;
}

std::string BlockObserver::describe(uintptr_t a) const {
  if (a - dynamic_lo_ < dynamic_bytes_ + kRedZone) {
    if (a - dynamic_lo_ < dynamic_bytes_) return "dynamic shared memory, offset " + std::to_string(a - dynamic_lo_);
    return std::to_string(a - dynamic_lo_ - dynamic_bytes_) + " bytes past the end of the block's " +
           std::to_string(dynamic_bytes_) + " bytes of dynamic shared memory";
  }
  if (a - tls_lo_ < tls_bytes_) {
    const Region* below = nullptr;
    for (const Region& r : shared_arrays_) {
      if (a >= r.lo && a < r.hi) return "__shared__ " + *r.name + ", offset " + std::to_string(a - r.lo);
      if (r.lo <= a) below = &r;
    }
    if (below)
      return "outside every __shared__ array of the kernel, " + std::to_string(a - below->hi) +
             " bytes past the end of " + *below->name + " (" + std::to_string(below->hi - below->lo) + " bytes)";
    return "outside every __shared__ array of the kernel";
  }
  for (const AllocationView& v : launch_.allocations_) {
    std::string alloc = "allocation #" + std::to_string(v.id) + " (" + std::to_string(v.end - v.start) +
                        " bytes at " + hex(v.start) + ")";
    if (a >= v.start && a < v.end) return alloc + ", offset " + std::to_string(a - v.start);
    if (a >= v.end && a < v.end + kRedZone) return std::to_string(a - v.end) + " bytes past the end of " + alloc;
    if (a < v.start && a + kRedZone >= v.start) return std::to_string(v.start - a) + " bytes before " + alloc;
  }
  return "address " + hex(a);
}

std::string BlockObserver::fault_report() { return launch_.format(fault_); }

void BlockObserver::stop(Finding f) {
  f.block = block_;
  f.thread = thread_;
  fault_ = std::move(f);
  stop_running_thread();
}

void BlockObserver::record(uintptr_t a, unsigned size, AccessOp op, uintptr_t code) {
  if (a - stack_lo_ < stack_size_) return;  // the thread's own stack: local variables
  Space space;
  bool suspect = false;
  if (a - dynamic_lo_ < dynamic_bytes_ + kRedZone) {
    space = Space::Shared;
    if (checks_.memcheck && a + size > dynamic_lo_ + dynamic_bytes_)
      stop({"memcheck", 0, 0, 0, code, 0, std::string("invalid __shared__ ") + op_name(op) + " of " + std::to_string(size) + " bytes by %T at %L: " + describe(a)});
  } else if (a - tls_lo_ < tls_bytes_) {
    if (a == anchor_) return;  // nnlab::sim::current, behind threadIdx and friends
    auto it = std::upper_bound(shared_arrays_.begin(), shared_arrays_.end(), a,
                               [](uintptr_t x, const Region& r) { return x < r.lo; });
    bool inside = it != shared_arrays_.begin() && a + size <= std::prev(it)->hi;
    if (!inside) {
      if (!checks_.memcheck) return;
      stop({"memcheck", 0, 0, 0, code, 0, std::string("invalid __shared__ ") + op_name(op) + " of " + std::to_string(size) + " bytes by %T at %L: " + describe(a)});
    }
    space = Space::Shared;
  } else {
    const AllocationView* v = find_allocation(a);
    if (!v) return;  // host memory: the kernel's parameters, its ThreadContext
    space = Space::Global;
    if (checks_.memcheck && (a < v->start || a + size > v->end))
      stop({"memcheck", 0, 0, 0, code, 0, std::string("invalid __global__ ") + op_name(op) + " of " + std::to_string(size) + " bytes by %T at %L: " + describe(a)});
    if (checks_.initcheck && op != AccessOp::Store && v->shadow && a >= v->start && a + size <= v->end &&
        !v->shadow->all(a - v->start, size))
      suspect = true;
  }
  if (checks_.memcheck && (size == 2 || size == 4 || size == 8 || size == 16) && a % size != 0)
    stop({"memcheck", 0, 0, 0, code, 0, std::string("misaligned ") + (space == Space::Global ? "__global__ " : "__shared__ ") +
                                            op_name(op) + " of " + std::to_string(size) + " bytes by %T at %L: " + describe(a) +
                                            " (address " + hex(a) + " is not a multiple of " + std::to_string(size) + ")"});
  std::vector<Access>& log = logs_[thread_];
  if (log.size() == log.capacity() && log.empty() && !spare_logs_.empty()) {
    log.swap(spare_logs_.back());  // a counted warp's buffer, still in cache
    spare_logs_.pop_back();
  }
  log.push_back(Access::make(uint32_t(code - code_base_), epochs_[thread_], a, size, op, space, suspect));
}

void BlockObserver::record_block(uintptr_t code) {
  std::vector<Access>& log = logs_[thread_];
  if (log.size() == log.capacity() && log.empty() && !spare_logs_.empty()) {
    log.swap(spare_logs_.back());
    spare_logs_.pop_back();
  }
  log.push_back(Access::block(uint32_t(code - code_base_), epochs_[thread_]));
}

void BlockObserver::paused(unsigned thread, bool ended) {
  ended_[thread] |= ended;
  size_t warp = thread / 32, first = warp * 32, lanes = std::min<size_t>(32, threads_ - first);
  if (++arrived_[warp] == lanes && eager_) {
    group_warp(first, lanes);
    for (size_t t = first; t < first + lanes; ++t) {
      logs_[t].clear();
      if (logs_[t].capacity()) spare_logs_.push_back(std::move(logs_[t]));
      logs_[t] = std::vector<Access>();
    }
  }
}

void BlockObserver::warp_released(size_t first, size_t lanes) {
  ++total_.warp_operations;
  for (size_t t = first; t < first + lanes; ++t) ++epochs_[t];
}

void BlockObserver::barrier_released(const char* file, int line, const std::vector<uint8_t>& arrived) {
  process_phase();
  Counters c;
  c.block_barriers = 1;
  for (size_t first = 0; first < threads_; first += 32) {
    uint64_t lanes = 0;
    for (size_t t = first; t < std::min(threads_, first + 32); ++t) lanes += arrived[t];
    if (lanes) ++c.barriers, c.barrier_lanes += lanes;
  }
  for (size_t t = 0; t < threads_; ++t) epochs_[t] += arrived[t];
  for (size_t w = 0; w < arrived_.size(); ++w) {  // the ended threads stay at the end
    arrived_[w] = 0;
    for (size_t t = w * 32; t < std::min(threads_, w * 32 + 32); ++t) arrived_[w] += ended_[t];
  }
  total_ += c;
  for (BarrierSite& s : barrier_sites_)
    if (s.file == file && s.line == line) {
      s.counters += c;
      return;
    }
  barrier_sites_.push_back({file, line, c});
}

void BlockObserver::end_block() {
  process_phase();
  total_.block_sectors += block_loaded_count_;
  for (auto [a, w] : block_loaded_words_) block_loaded_[a][w] = 0;
  block_loaded_words_.clear();
  block_loaded_count_ = 0;
}

void BlockObserver::process_phase() {
  for (size_t first = 0; first < threads_; first += 32) group_warp(first, std::min<size_t>(32, threads_ - first));
  if (checks_.racecheck) check_races();
  if (checks_.initcheck) check_initialisation();
  for (size_t t = 0; t < threads_; ++t) logs_[t].clear();
}

namespace {
struct RequestKey {
  uintptr_t code;
  uint32_t epoch, k;
  Space space;
  bool operator==(const RequestKey& o) const {
    return code == o.code && epoch == o.epoch && k == o.k && space == o.space;
  }
};
struct RequestKeyHash {
  size_t operator()(const RequestKey& key) const {
    uint64_t h = key.code * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t(key.epoch) << 32 | key.k) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    return size_t(h ^ uint64_t(key.space));
  }
};
}  // namespace

void BlockObserver::group_warp(size_t first, size_t lanes) {
  // Fast path: every lane that accessed memory made the same sequence of accesses (the same
  // sites at the same epochs), so the i-th entries of the logs form the i-th request.
  const std::vector<Access>* reference = nullptr;
  bool same = true;
  for (size_t l = 0; l < lanes && same; ++l) {
    const std::vector<Access>& log = logs_[first + l];
    if (log.empty()) continue;
    if (!reference) {
      reference = &log;
      continue;
    }
    if (log.size() != reference->size()) {
      same = false;
      break;
    }
    for (size_t i = 0; i < log.size(); ++i)
      if (log[i].site != (*reference)[i].site || log[i].epoch != (*reference)[i].epoch ||
          log[i].space() != (*reference)[i].space()) {
        same = false;
        break;
      }
  }
  if (!reference) return;
  if (same) {
    Request r;
    for (size_t i = 0; i < reference->size(); ++i) {
      const Access& e = (*reference)[i];
      r.code = code(e), r.space = e.space(), r.op = e.op(), r.block = e.is_block(), r.lanes = 0;
      for (size_t l = 0; l < lanes; ++l) {
        const std::vector<Access>& log = logs_[first + l];
        if (!log.empty()) r.lane[r.lanes++] = {log[i].address(), log[i].size(), uint32_t(l)};
      }
      account(r);
    }
    return;
  }
  // General: a lane's k-th access at a site in an epoch joins the request of that (site,
  // epoch, k).
  std::unordered_map<RequestKey, uint32_t, RequestKeyHash> index;
  std::unordered_map<RequestKey, uint32_t, RequestKeyHash> seen;
  requests_.clear();
  for (size_t l = 0; l < lanes; ++l) {
    seen.clear();
    for (const Access& e : logs_[first + l]) {
      uint32_t k = seen[{e.site, e.epoch, 0, e.space()}]++;
      auto [it, inserted] = index.emplace(RequestKey{e.site, e.epoch, k, e.space()}, uint32_t(requests_.size()));
      if (inserted) {
        requests_.emplace_back();
        Request& r = requests_.back();
        r.code = code(e), r.space = e.space(), r.op = e.op(), r.block = e.is_block(), r.lanes = 0;
      }
      Request& r = requests_[it->second];
      r.lane[r.lanes++] = {e.address(), e.size(), uint32_t(l)};
    }
  }
  for (const Request& r : requests_) account(r);
}

Counters& BlockObserver::site(uintptr_t code) {
  if (code != last_code_ || !last_site_) last_code_ = code, last_site_ = &sites_[code];
  return *last_site_;
}

namespace {
// Passes of a memory organised in `banks` banks of 4 bytes (shared memory; the L1 data stage)
// over a request: lanes go in phases of `phase_lanes` for 4-byte words (a half or a quarter
// of that for 8- or 16-byte accesses), and a phase takes as many passes as the most distinct
// words asked of one bank; lanes reading one word share it (a broadcast). `ideal` gets one
// per phase with an active lane. A phase's lanes ask at most 32 words (32 lanes x 4 bytes,
// 16 x 8, 8 x 16): each bank keeps the distinct words asked of it.
uint64_t bank_passes(const BlockObserver::Request& r, uint32_t banks, uint32_t phase_lanes, uint64_t* ideal) {
  uint32_t widest = 0;
  for (int i = 0; i < r.lanes; ++i) widest = std::max(widest, r.lane[i].size);
  uint32_t words_per_lane = widest <= 4 ? 1 : std::min<uint32_t>(4, (widest + 3) / 4);
  uint32_t per_phase = std::max<uint32_t>(1, phase_lanes / words_per_lane), phases = (32 + per_phase - 1) / per_phase;
  uint64_t passes = 0;
  for (uint32_t p = 0; p < phases; ++p) {
    uintptr_t words[32][32];
    uint32_t per_bank[32] = {}, most = 0;
    bool any = false;
    for (int i = 0; i < r.lanes; ++i) {
      if (r.lane[i].lane / per_phase != p) continue;
      any = true;
      for (uintptr_t w = r.lane[i].address >> 2; w <= (r.lane[i].address + r.lane[i].size - 1) >> 2; ++w) {
        uint32_t bank = uint32_t(w % banks), k = 0;
        while (k < per_bank[bank] && words[bank][k] != w) ++k;
        if (k < per_bank[bank] || k == 32) continue;  // a broadcast (32: only with odd sizes)
        words[bank][per_bank[bank]++] = w;
        most = std::max(most, per_bank[bank]);
      }
    }
    if (!any) continue;
    passes += most;
    if (ideal) *ideal += 1;
  }
  return passes;
}
}  // namespace

void BlockObserver::account(const Request& r) {
  if (r.block) {
    Counters& at = site(r.code);
    ++at.basic_blocks, at.basic_block_lanes += uint64_t(r.lanes);
    ++total_.basic_blocks, total_.basic_block_lanes += uint64_t(r.lanes);
    return;
  }
  MemoryCounters c;
  c.requests = 1;
  c.lanes = uint64_t(r.lanes);
  for (int i = 0; i < r.lanes; ++i) c.bytes += r.lane[i].size;
  if (r.space == Space::Global) {
    // Sectors: the distinct 32-byte blocks the lanes' bytes fall in; ideal: the distinct bytes
    // in whole sectors; lines: the distinct 128-byte lines. Lanes sorted by address, then one
    // sweep.
    Lane sorted[32];
    int n = r.lanes;
    std::copy(r.lane, r.lane + n, sorted);
    for (int i = 1; i < n; ++i)
      for (int j = i; j > 0 && sorted[j].address < sorted[j - 1].address; --j) std::swap(sorted[j], sorted[j - 1]);
    uint64_t sectors = 0, distinct = 0, last_sector = 0, lines = 0, last_line = 0;
    uintptr_t covered = 0;
    bool any = false;
    for (int i = 0; i < n; ++i) {
      uintptr_t lo = sorted[i].address, hi = lo + sorted[i].size;
      if (hi > std::max(lo, covered)) distinct += hi - std::max(lo, covered);
      covered = std::max(covered, hi);
      uint64_t s0 = lo >> 5, s1 = (hi - 1) >> 5, l0 = lo >> 7, l1 = (hi - 1) >> 7;
      if (any && s0 <= last_sector) s0 = last_sector + 1;
      if (s1 >= s0) sectors += s1 - s0 + 1;
      if (any && l0 <= last_line) l0 = last_line + 1;
      if (l1 >= l0) lines += l1 - l0 + 1;
      last_sector = any ? std::max(last_sector, s1) : s1;
      last_line = any ? std::max(last_line, l1) : l1;
      any = true;
    }
    c.transactions = sectors;
    c.ideal = (distinct + 31) / 32;
    // The L1TEX pipeline since Volta: the tag stage resolves 4 lines (of 4 sectors) a cycle,
    // the data stage 128 bytes: 32 banks of 4 bytes, as shared memory.
    c.l1_wavefronts = std::max<uint64_t>((lines + 3) / 4, bank_passes(r, 32, 32, nullptr));
    mark_sectors(r);
  } else {
    c.transactions = bank_passes(r, 32, 32, &c.ideal);
    c.half_warp_wavefronts = bank_passes(r, 16, 16, nullptr);
  }
  total_.at(r.space, r.op) += c;
  site(r.code).at(r.space, r.op) += c;
}

void BlockObserver::mark_sectors(const Request& r) {
  for (int i = 0; i < r.lanes; ++i) {
    uintptr_t lo = r.lane[i].address, hi = lo + r.lane[i].size;
    const AllocationView* v = find_allocation(lo);
    if (!v || lo < v->start || hi > v->end) continue;  // memcheck's business
    size_t a = size_t(v - launch_.allocations_.data()), sectors = sectors_of(*v);
    uint64_t* launch_bits = launch_.footprint_->bits(
        r.op == AccessOp::Load ? launch_.footprint_->loaded.get() : launch_.footprint_->stored.get(), a, sectors);
    for (uint64_t s = (lo - v->start) >> 5; s <= (hi - 1 - v->start) >> 5; ++s) {
      uint64_t bit = uint64_t(1) << (s % 64);
      if (!(__atomic_load_n(&launch_bits[s / 64], __ATOMIC_RELAXED) & bit))
        __atomic_fetch_or(&launch_bits[s / 64], bit, __ATOMIC_RELAXED);
      if (r.op != AccessOp::Load) continue;
      if (block_loaded_.size() <= a) block_loaded_.resize(a + 1);
      std::vector<uint64_t>& mine = block_loaded_[a];
      if (mine.empty()) mine.assign((sectors + 63) / 64, 0);
      uint64_t& word = mine[s / 64];
      if (word & bit) continue;
      if (word == 0) block_loaded_words_.push_back({uint32_t(a), uint32_t(s / 64)});
      word |= bit;
      ++block_loaded_count_;
    }
  }
}

void BlockObserver::check_races() {
  struct Writer {
    uint32_t thread, epoch;
    uintptr_t code;
    uint8_t mask;
    int32_t next;
  };
  std::vector<Writer> writers;
  std::unordered_map<uintptr_t, int32_t> heads;  // word -> its latest writer
  auto for_words = [](const Access& e, auto&& f) {
    uintptr_t a = e.address();
    for (uintptr_t w = a >> 2; w <= (a + e.size() - 1) >> 2; ++w) {
      uintptr_t lo = std::max(a, w << 2), hi = std::min<uintptr_t>(a + e.size(), (w + 1) << 2);
      f(w, uint8_t(((1u << (hi - lo)) - 1) << (lo - (w << 2))));
    }
  };
  for (size_t t = 0; t < threads_; ++t)
    for (const Access& e : logs_[t]) {
      if (e.space() != Space::Shared || e.op() != AccessOp::Store) continue;
      for_words(e, [&](uintptr_t w, uint8_t mask) {
        auto [it, inserted] = heads.emplace(w, -1);
        if (it->second >= 0 && writers[it->second].thread == t && writers[it->second].epoch == e.epoch) {
          writers[it->second].mask |= mask;
          return;
        }
        writers.push_back({uint32_t(t), e.epoch, code(e), mask, it->second});
        it->second = int32_t(writers.size() - 1);
      });
    }
  if (writers.empty()) return;
  std::set<std::pair<uintptr_t, uintptr_t>> reported;
  for (size_t t = 0; t < threads_; ++t)
    for (const Access& e : logs_[t]) {
      if (e.space() != Space::Shared || e.op() == AccessOp::Atomic) continue;
      for_words(e, [&](uintptr_t w, uint8_t mask) {
        auto it = heads.find(w);
        if (it == heads.end()) return;
        for (int32_t i = it->second; i >= 0; i = writers[i].next) {
          const Writer& W = writers[i];
          if (W.thread == t || !(W.mask & mask)) continue;
          if (W.thread / 32 == t / 32 && W.epoch != e.epoch) continue;  // ordered by a warp operation
          auto pair = std::minmax(W.code, code(e));
          if (!reported.insert(pair).second) continue;
          Finding f{"racecheck", block_, uint32_t(t), W.thread, code(e), W.code,
                    "race on " + describe(e.address()) + ": %U wrote it at %O and %T " +
                        (e.op() == AccessOp::Store ? "wrote" : "read") +
                        " it at %L, with no __syncthreads (or __syncwarp within a warp) between them"};
          findings_.push_back(std::move(f));
        }
      });
    }
}

void BlockObserver::check_initialisation() {
  // Bytes count as written when written before the launch, by this block before the last
  // barrier, or by the same thread earlier: never by another block (no order between blocks)
  // nor by another thread since the last barrier (a race), so the verdict is the same in every
  // schedule.
  auto written_by_block = [&](uintptr_t b) {
    auto it = block_written_.find(b >> 2);
    return it != block_written_.end() && (it->second >> (b & 3) & 1);
  };
  std::set<uintptr_t> reported;
  for (size_t t = 0; t < threads_; ++t) {
    const std::vector<Access>& log = logs_[t];
    for (size_t i = 0; i < log.size(); ++i) {
      const Access& e = log[i];
      if (!e.suspect() || reported.count(code(e))) continue;
      const AllocationView* v = find_allocation(e.address());
      for (uintptr_t b = e.address(); b < e.address() + e.size(); ++b) {
        if (v->shadow->test(b - v->start) || written_by_block(b)) continue;
        bool own = false;
        for (size_t j = 0; j < i && !own; ++j)
          own = log[j].space() == Space::Global && log[j].op() != AccessOp::Load && b >= log[j].address() &&
                b < log[j].address() + log[j].size();
        if (own) continue;
        reported.insert(code(e));
        findings_.push_back({"initcheck", block_, uint32_t(t), 0, code(e), 0,
                             "%T " + std::string(op_name(e.op())) + " " + std::to_string(e.size()) +
                                 " bytes at %L that nothing wrote since cudaMalloc: " + describe(b)});
        break;
      }
    }
  }
  for (size_t t = 0; t < threads_; ++t)
    for (const Access& e : logs_[t]) {
      if (e.space() != Space::Global || e.op() == AccessOp::Load) continue;
      uintptr_t a = e.address();
      const AllocationView* v = find_allocation(a);
      if (!v || !v->shadow || a < v->start || a + e.size() > v->end) continue;
      launch_writes_.push_back({a, e.size()});
      for (uintptr_t b = a; b < a + e.size(); ++b)
        if (!v->shadow->test(b - v->start)) block_written_[b >> 2] |= uint8_t(1u << (b & 3));
    }
}

// ------------------------------------------------------------------------ launch finish
void LaunchObserver::merge(BlockObserver& b) {
  std::lock_guard<std::mutex> lock(mutex_);
  metrics_.total += b.total_;
  for (const auto& [code, c] : b.sites_) sites_[code] += c;
  for (const auto& s : b.barrier_sites_) {
    auto it = std::find_if(barrier_sites_.begin(), barrier_sites_.end(),
                           [&](const BlockObserver::BarrierSite& x) { return x.file == s.file && x.line == s.line; });
    if (it == barrier_sites_.end())
      barrier_sites_.push_back(s);
    else
      it->counters += s.counters;
  }
  findings_.insert(findings_.end(), b.findings_.begin(), b.findings_.end());
  writes_.insert(writes_.end(), b.launch_writes_.begin(), b.launch_writes_.end());
}

std::string LaunchObserver::format(const Finding& f) {
  std::vector<SourceLine> lines = source_lines({f.code, f.other_code ? f.other_code : f.code});
  auto at = [](const SourceLine& s) { return s.file + ":" + std::to_string(s.line); };
  std::string text = f.tool + ": " + f.what;
  for (auto [key, value] : {std::pair<std::string, std::string>{"%T", thread_name(f.block, f.thread)},
                            {"%U", thread_in_block(f.other_thread)},
                            {"%L", at(lines[0])},
                            {"%O", at(lines[1])}})
    for (size_t p; (p = text.find(key)) != std::string::npos;) text.replace(p, key.size(), value);
  return text;
}

void LaunchObserver::finish(uint64_t simulated_blocks) {
  metrics_.simulated_blocks = simulated_blocks;
  std::vector<std::pair<uintptr_t, Counters>> sites(sites_.begin(), sites_.end());
  std::sort(sites.begin(), sites.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // The basic blocks' instructions, from the code they begin at (instructions.h).
  std::vector<uintptr_t> blocks;
  for (const auto& [code, c] : sites)
    if (c.basic_blocks) blocks.push_back(code);
  if (!blocks.empty()) {
    std::vector<BlockInstructions> weights = basic_block_instructions(blocks, &metrics_.instructions_unavailable);
    size_t next = 0;
    for (auto& [code, c] : sites) {
      if (!c.basic_blocks) continue;
      const BlockInstructions& w = weights[next++];
      c.alu_instructions = c.basic_blocks * w.alu, c.fp32_instructions = c.basic_blocks * w.fp32;
      metrics_.total.alu_instructions += c.alu_instructions;
      metrics_.total.fp32_instructions += c.fp32_instructions;
    }
  }
  metrics_.footprint_load_sectors = footprint_->count(footprint_->loaded.get(), allocations_);
  metrics_.footprint_store_sectors = footprint_->count(footprint_->stored.get(), allocations_);
  for (size_t a = 0; a < allocations_.size(); ++a)
    if (footprint_->loaded[a].load() || footprint_->stored[a].load())
      metrics_.touched_allocation_sectors += sectors_of(allocations_[a]);
  for (auto& [code, c] : sites) metrics_.sites.push_back({code, "", 0, c});
  std::sort(barrier_sites_.begin(), barrier_sites_.end(), [](const auto& a, const auto& b) {
    int order = std::strcmp(a.file, b.file);
    return order != 0 ? order < 0 : a.line < b.line;
  });
  for (auto& s : barrier_sites_) metrics_.sites.push_back({0, s.file, s.line, s.counters});
  for (const auto& [address, size] : writes_)
    for (const AllocationView& v : allocations_)
      if (address >= v.start && address < v.end && v.shadow) {
        v.shadow->set(address - v.start, std::min<size_t>(size, v.end - address));
        break;
      }
  uint64_t threads = uint64_t(metrics_.block.x) * metrics_.block.y * metrics_.block.z;
  metrics_.occupancy = occupancy(metrics_.function, int(threads), metrics_.dynamic_shared_bytes,
                                 opted_in_dynamic_shared(kernel_));
  // One report per tool and pair of source lines (a template's instances share lines), the
  // first in block and thread order.
  std::sort(findings_.begin(), findings_.end());
  std::vector<std::string> reports;
  std::set<std::string> seen;
  for (const Finding& f : findings_) {
    std::vector<SourceLine> lines = source_lines({f.code, f.other_code});
    auto at = [](const SourceLine& l) { return l.file + ":" + std::to_string(l.line); };
    std::string a = at(lines[0]), b = f.other_code ? at(lines[1]) : "";
    if (seen.insert(f.tool + " " + std::min(a, b) + " " + std::max(a, b)).second) reports.push_back(format(f));
  }
  LaunchMetrics published = metrics_;
  if (recording_.on_launch)
    recording_.on_launch(std::move(published));
  else
    recording_.launches().push_back(std::move(published));
  if (reports.empty()) return;
  std::string message = "kernel " + metrics_.kernel + " launched at " + metrics_.launch_site + ": " +
                        std::to_string(reports.size()) + " finding" + (reports.size() > 1 ? "s" : "") + ":";
  for (size_t i = 0; i < reports.size() && i < 10; ++i) message += "\n  " + reports[i];
  if (reports.size() > 10) message += "\n  ... and " + std::to_string(reports.size() - 10) + " more";
  throw SimError(message);
}

}  // namespace detail
}  // namespace nnlab::sim
