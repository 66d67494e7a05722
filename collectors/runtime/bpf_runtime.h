#pragma once

// The BPF runtime every capture domain shares (docs/agent.md): it prepares
// the host, creates the maps all domains' programs write into (the one ring
// buffer, the kernel counters, the pid -> exec_id map), consumes the ring,
// and hands each record to the handler that registered its kind. One ring
// for every domain keeps capture order across domains (an exec before the
// syscalls of its image).
//
// A domain registers the record kinds it decodes; a rate-limit summary
// (VIGIL_EV_SUPPRESSED) goes to the handler of the kind it counts. A record
// of a kind nobody registered is dropped and counted (unrouted()).

#include "collectors/runtime/boot_clock.h"
#include "collectors/runtime/bpf_env.h"
#include "collectors/runtime/counters.h"
#include "collectors/runtime/ring_buffer.h"
#include "vigil/status.h"

#include "shared/common.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>

namespace vigil::runtime {

// Adds n to a counter only the calling thread writes, that others read:
// a relaxed load and store, no locked instruction on the capture path.
inline void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct RuntimeOptions {
  uint32_t ring_bytes = 8u << 20; // the ring buffer's size: a power of two, at least a page
  uint32_t wakeup_bytes = 128u << 10; // wake user space when unread data crosses this; 0: every record
  uint32_t proc_map_entries = 65536; // pid -> exec_id LRU size
  bool libbpf_debug = false; // libbpf's debug log (verifier output) into ours
};

// Receives the records of the kinds it registered, on the polling thread.
// The bytes are valid only during the call.
class RecordHandler {
public:
  virtual ~RecordHandler() = default;
  virtual void onRecord(uint16_t kind, std::span<const uint8_t> record) = 0;
};

class BpfRuntime {
public:
  // Validates the options, prepares the host (mounts, memlock) and creates
  // the shared maps. Fails fast with a message naming what is missing.
  static Result<std::unique_ptr<BpfRuntime>> create(const RuntimeOptions& options);
  ~BpfRuntime();
  BpfRuntime(const BpfRuntime&) = delete;
  BpfRuntime& operator=(const BpfRuntime&) = delete;

  // The maps each domain's object reuses (reuseSharedMaps) before loading.
  const SharedMaps& sharedMaps() const { return shared_; }
  // The node's one boot clock: every domain converts record times with it.
  const BootClock& clock() const { return clock_; }
  const BpfEnvReport& environment() const { return env_; }

  // handler decodes records of these kinds (enum vigil_event_kind), and the
  // rate-limit summaries of them. A kind has at most one handler.
  Status registerKinds(std::initializer_list<uint16_t> kinds, RecordHandler& handler);

  // Starts consuming the ring (before the first program attaches, so the
  // ring never waits for a reader).
  Status start();
  // Waits up to timeout_ms for a wakeup, then dispatches what is there.
  // Returns the number of records consumed.
  Result<int> poll(int timeout_ms);
  // Dispatches until the ring is empty, without waiting.
  Result<int> drain();

  // Records of a kind nobody registered (dropped). Any thread.
  uint64_t unrouted() const { return unrouted_.load(std::memory_order_relaxed); }
  // Records too short to carry a header (dropped). Any thread.
  uint64_t malformed() const { return malformed_.load(std::memory_order_relaxed); }
  // The kernel's counters (bpf/shared/common.h), summed or per CPU. Any thread.
  Result<KernelCounters> kernelCounters() const { return readKernelCounters(shared_.counters_fd); }
  Result<std::vector<KernelCounters>> kernelCountersPerCpu() const {
    return readKernelCountersPerCpu(shared_.counters_fd);
  }

private:
  BpfRuntime(const RuntimeOptions& options, BpfEnvReport env);
  void dispatch(std::span<const uint8_t> record);

  RuntimeOptions options_;
  BpfEnvReport env_;
  BootClock clock_;
  SharedMaps shared_;
  std::unique_ptr<RingBuffer> ring_;
  std::array<RecordHandler*, VIGIL_EV_KIND_MAX> handlers_{};
  std::atomic<uint64_t> unrouted_{0}, malformed_{0};
};

} // namespace vigil::runtime
