#pragma once

// Process ancestry: every process image the agent knows, keyed by exec_id,
// so each event can carry its process and parent and the whole ancestor
// chain can be resolved. Fed by the process collector's snapshot at start
// and by exec/fork/exit events after.
//
// Images stay while alive, and after they end (exit, or replaced by exec)
// while any image still alive names them as parent, plus a grace period for
// late lookups. A hard cap bounds memory; evictions are counted.

#include "vigil/event.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil {

struct ProcessCacheOptions {
  size_t max_entries = 65536;
  uint64_t ended_ttl_ns = 30ULL * 1000000000ULL; // keep ended images this long
};

struct ProcessCacheStats {
  uint64_t entries = 0;
  uint64_t inserts = 0;
  uint64_t removed = 0; // ended images reaped normally
  uint64_t evicted = 0; // removed early to respect max_entries
  uint64_t parent_hits = 0;
  uint64_t parent_misses = 0; // event whose parent is unknown
  uint64_t process_misses = 0; // exit, syscall, flow or DNS event of an image the cache never saw
};

class ProcessCache {
public:
  explicit ProcessCache(ProcessCacheOptions options = {}) : options_(options) {}

  // A process that existed when the agent started. Call finishSnapshot()
  // after the last one: snapshots do not arrive parent first.
  void addExisting(Process&& process);
  void finishSnapshot();

  // Completes a live event in place and updates the cache:
  //  exec: records the new image, ends the previous one, attaches the parent;
  //  fork: fills the child's inherited image (binary, args, cwd) from the
  //        parent and records it;
  //  exit: fills the image from the cache, attaches the parent, ends it;
  //  syscall, flow, dns: fills the caller's image from the cache (keeping
  //        the thread, uid/gid, comm and cgroup of the call) and attaches
  //        the parent.
  void enrich(Event& event);

  const Process* find(std::string_view exec_id) const;
  // The current (latest, not ended) image of pid.
  const Process* findByPid(uint32_t pid) const;
  // Parent, grandparent, ... of the image exec_id, nearest first; stops at an
  // unknown link or after max_depth.
  std::vector<const Process*> ancestors(std::string_view exec_id, size_t max_depth = 64) const;

  // Reaps ended images whose grace period is over and that no live image
  // names as parent. now_ns is CLOCK_BOOTTIME.
  void sweep(uint64_t now_ns);

  ProcessCacheStats stats() const;

private:
  struct Entry {
    Process process;
    bool ended = false;
    uint64_t ended_ns = 0;
    uint32_t children = 0; // images in the cache naming this one as parent
    uint64_t order = 0; // insertion order, for eviction
  };

  // By exec_id, looked up by string_view without building a key string.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using EntryMap = std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>>;

  Entry* lookup(std::string_view exec_id);
  // The parent image of process; when found only by ppid, process's
  // parent_exec_id is corrected to it.
  const Process* parentOf(Process& process);
  // The cached image of the process behind an event (found by exec_id, else
  // by pid), and its parent.
  void attachCaller(Process& proc, Process& parent);
  void insert(Process process);
  void end(Entry& entry, uint64_t now_ns);
  void remove(EntryMap::iterator it);
  void enforceCap();

  ProcessCacheOptions options_;
  EntryMap entries_;
  std::unordered_map<uint32_t, std::string> current_; // pid -> exec_id of its live image
  uint64_t next_order_ = 0;
  ProcessCacheStats stats_;
};

} // namespace vigil
