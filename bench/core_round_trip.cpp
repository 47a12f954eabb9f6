// How long a cache line takes to go from one core to another and back: two threads, pinned to
// the first two CPUs this process may use, take turns writing one shared counter, and the
// median of a few runs of 100,000 turns is printed in nanoseconds per round trip.
//
// It is what every hand-over between threads costs (a barrier, a value one thread wrote and
// the other reads). On this project's 2-vCPU VM it reads about 55 or 120 ns, and about 350 ns
// at times. It does not tell the VM's slow phases, in which two threads get one core's worth
// of work done (a 2-thread GEMM at its 1-thread speed): those came with 118 ns readings as well
// as 354 ns ones (README, "The cpu backend and PyTorch").
//   usage: core_round_trip [RUNS]   (Linux; prints one JSON line)
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {
// The first two CPUs of this process's affinity mask.
std::vector<int> two_cpus() {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) throw std::runtime_error("sched_getaffinity failed");
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu)
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  if (cpus.size() < 2) throw std::runtime_error("this process may run on only one CPU");
  return cpus;
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
    throw std::runtime_error("cannot pin a thread to CPU " + std::to_string(cpu));
}

// Nanoseconds per round trip over `turns` round trips between CPUs a and b.
double round_trip_ns(int a, int b, int turns) {
  alignas(64) std::atomic<int> counter{0};
  std::thread partner([&] {
    pin_to(b);
    for (int i = 0; i < turns; ++i) {
      while (counter.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      counter.store(2 * i + 2, std::memory_order_release);
    }
  });
  pin_to(a);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < turns; ++i) {
    counter.store(2 * i + 1, std::memory_order_release);
    while (counter.load(std::memory_order_acquire) != 2 * i + 2) {
    }
  }
  auto end = std::chrono::steady_clock::now();
  partner.join();
  return std::chrono::duration<double, std::nano>(end - start).count() / turns;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    const int runs = argc > 1 ? std::stoi(argv[1]) : 5;
    if (runs < 1) throw std::invalid_argument("RUNS must be at least 1, not " + std::string(argv[1]));
    const std::vector<int> cpus = two_cpus();
    std::vector<double> times;
    for (int r = 0; r < runs; ++r) times.push_back(round_trip_ns(cpus[0], cpus[1], 100000));
    std::sort(times.begin(), times.end());
    std::printf("{\"what\": \"core round trip\", \"cpus\": [%d, %d], \"round_trip_ns\": %.0f}\n", cpus[0], cpus[1],
                times[times.size() / 2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "core_round_trip: %s\n", e.what());
    return 1;
  }
}
