#include "collectors/runtime/bpf_runtime.h"

#include "collectors/runtime/suppressed.h"

#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <unistd.h>

namespace vigil::runtime {
namespace {

bool isPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// A map the domains' objects reuse in place of their own definition of it
// (libbpf takes type, sizes and flags from the fd).
Result<int> createMap(bpf_map_type type, const char* name, uint32_t key_size, uint32_t value_size,
                      uint32_t max_entries) {
  int fd = bpf_map_create(type, name, key_size, value_size, max_entries, nullptr);
  if (fd < 0) {
    int err = errno;
    return makeError("create map {}: {}{}", name, errnoText(err),
                     err == EPERM ? " (creating BPF maps needs CAP_BPF, or root)" : "");
  }
  return fd;
}

} // namespace

BpfRuntime::BpfRuntime(const RuntimeOptions& options, BpfEnvReport env)
    : options_(options), env_(std::move(env)), clock_(BootClock::measure()) {}

BpfRuntime::~BpfRuntime() {
  ring_.reset();
  for (int fd : {shared_.events_fd, shared_.counters_fd, shared_.procs_fd}) {
    if (fd >= 0) {
      close(fd);
    }
  }
}

Result<std::unique_ptr<BpfRuntime>> BpfRuntime::create(const RuntimeOptions& options) {
  if (!isPowerOfTwo(options.ring_bytes) || options.ring_bytes < uint32_t(getpagesize())) {
    return makeError("ring buffer size {} must be a power of two of at least {} bytes", options.ring_bytes,
                     getpagesize());
  }
  if (options.wakeup_bytes >= options.ring_bytes) {
    return makeError("wakeup threshold {} must be below the ring buffer size {}", options.wakeup_bytes,
                     options.ring_bytes);
  }
  routeLibbpfLogToSpdlog(options.libbpf_debug);
  auto env = prepareBpfEnvironment();
  if (!env) {
    return env.error();
  }
  std::unique_ptr<BpfRuntime> rt(new BpfRuntime(options, std::move(*env)));
  rt->shared_.wakeup_bytes = options.wakeup_bytes;
  auto ring = createMap(BPF_MAP_TYPE_RINGBUF, "vigil_events", 0, 0, options.ring_bytes);
  if (!ring) {
    return ring.error();
  }
  rt->shared_.events_fd = *ring;
  auto counters = createMap(BPF_MAP_TYPE_PERCPU_ARRAY, "vigil_counters", sizeof(uint32_t), sizeof(uint64_t),
                            VIGIL_CNT_MAX);
  if (!counters) {
    return counters.error();
  }
  rt->shared_.counters_fd = *counters;
  auto procs = createMap(BPF_MAP_TYPE_LRU_HASH, "vigil_procs", sizeof(uint32_t), sizeof(uint64_t),
                         options.proc_map_entries);
  if (!procs) {
    return procs.error();
  }
  rt->shared_.procs_fd = *procs;
  return rt;
}

Status BpfRuntime::registerKinds(std::initializer_list<uint16_t> kinds, RecordHandler& handler) {
  for (uint16_t kind : kinds) {
    if (kind == 0 || kind >= VIGIL_EV_KIND_MAX || kind == VIGIL_EV_SUPPRESSED) {
      return makeError("record kind {} cannot be registered", kind);
    }
    if (handlers_[kind] != nullptr && handlers_[kind] != &handler) {
      return makeError("record kind {} has a handler already", kind);
    }
    handlers_[kind] = &handler;
  }
  return okStatus();
}

Status BpfRuntime::start() {
  if (ring_) {
    return okStatus();
  }
  auto ring = RingBuffer::create(
      shared_.events_fd, [this](std::span<const uint8_t> r) { dispatch(r); }, options_.wakeup_bytes > 0);
  if (!ring) {
    return ring.error().wrap("ring buffer");
  }
  ring_ = std::move(*ring);
  return okStatus();
}

void BpfRuntime::dispatch(std::span<const uint8_t> record) {
  if (record.size() < sizeof(vigil_event_header)) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("dropped a record of {} bytes: shorter than a record header", record.size());
    return;
  }
  uint16_t kind = 0;
  std::memcpy(&kind, record.data() + offsetof(vigil_event_header, kind), sizeof(kind));
  // A rate limit's summary goes to the handler of what it dropped.
  uint32_t owner = kind == VIGIL_EV_SUPPRESSED ? suppressedKind(record) : kind;
  RecordHandler* handler = owner < VIGIL_EV_KIND_MAX ? handlers_[owner] : nullptr;
  if (handler == nullptr) {
    unrouted_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("dropped a record of kind {}: no collector for it", kind);
    return;
  }
  handler->onRecord(kind, record);
}

Result<int> BpfRuntime::poll(int timeout_ms) {
  if (!ring_) {
    return makeError("ring buffer polled before start()");
  }
  return ring_->poll(timeout_ms);
}

Result<int> BpfRuntime::drain() {
  if (!ring_) {
    return 0;
  }
  return ring_->drain();
}

} // namespace vigil::runtime
