#pragma once

// Cgroup id -> cgroup path -> container.
//
// Events carry the cgroup v2 id of their task (bpf_get_current_cgroup_id):
// the id of the cgroup's kernfs node, which is also the inode number of the
// cgroup's directory on the cgroup2 mount. CgroupResolver maps ids to paths
// by scanning that mount's directory tree, keeps what it found, and parses
// the paths into containers (parseContainerCgroup), caching those too.
//
// A miss rescans the tree, at most once per rescan_interval_ns however many
// unknown ids arrive. Cgroup ids only grow (kernfs allocates them
// cyclically with a generation in the high bits), so an unknown id no
// greater than the largest one the previous complete scan saw belongs to a
// cgroup that is gone: it costs no rescan at all (monotonic_ids).
//
// Memory is bounded: a scan visits at most max_scan_dirs directories down
// to max_depth levels, and the cache keeps at most max_entries, evicting
// the least recently used. Every complete scan drops the cgroups that
// vanished.
//
// Ids equal inode numbers on 64-bit architectures only (a 32-bit ino_t
// holds the low half), which is what the agent supports.
//
// Not thread-safe: one instance lives on one pipeline thread.

#include "agent/enrich/container_id.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil::enrich {

struct CgroupResolverOptions {
  uint64_t rescan_interval_ns = 1'000'000'000; // at most one miss-driven rescan per interval
  size_t max_entries = 16384; // cached ids
  size_t max_scan_dirs = 65536; // directories one scan visits
  int max_depth = 16; // levels below the mount a scan descends
  // Treat an unknown id at or below the previous complete scan's largest id
  // as gone, without rescanning. True of cgroup2; tests on ordinary
  // filesystems, whose inode numbers are reused, turn it off.
  bool monotonic_ids = true;
  std::string proc_root = "/proc"; // for containerOfPid
  // Monotonic nanoseconds; CLOCK_MONOTONIC when empty. Tests inject one.
  std::function<uint64_t()> now_ns;
};

struct CgroupResolverStats {
  uint64_t entries = 0; // ids cached now
  uint64_t hits = 0; // lookups answered from the cache
  uint64_t misses = 0; // lookups of an id not cached
  uint64_t gone = 0; // misses known gone without a rescan (monotonic_ids)
  uint64_t throttled = 0; // misses that could not rescan: the interval had not passed
  uint64_t unresolved = 0; // misses still unknown after all
  uint64_t rescans = 0; // scans of the tree
  uint64_t scan_truncated = 0; // scans stopped by max_scan_dirs
  uint64_t scan_errors = 0; // scans that could not open the mount
  uint64_t vanished = 0; // cached ids dropped because their directory was gone
  uint64_t evicted = 0; // cached ids dropped to respect max_entries
  uint64_t pid_lookups = 0; // containerOfPid calls
  uint64_t pid_errors = 0; // ... whose /proc/<pid>/cgroup could not be read
};

class CgroupResolver {
public:
  // cgroup2_mount: where the cgroup2 hierarchy is mounted (/sys/fs/cgroup,
  // or /sys/fs/cgroup/unified on hybrid hosts; see runtime::cgroup2Mount).
  // Nothing is read until the first lookup or rescan().
  explicit CgroupResolver(std::string cgroup2_mount, CgroupResolverOptions options = {});

  // The path of cgroup_id relative to the mount, as /proc/<pid>/cgroup
  // writes it ("/" for the mount's root, else "/a/b"); nullopt when the id
  // is unknown even after the rescan a miss may trigger.
  std::optional<std::string> path(uint64_t cgroup_id);

  // The container of cgroup_id's path; nullopt for a host cgroup or an
  // unknown id. On hybrid hosts a runtime with the cgroupfs driver leaves
  // no trace in the v2 tree: use containerOfPid there.
  std::optional<ContainerRef> container(uint64_t cgroup_id);

  // The container of pid from <proc_root>/<pid>/cgroup, for hosts where
  // cgroup ids say nothing (cgroup v1 only, hybrid with cgroupfs-driven
  // runtimes). Not cached: pids are reused.
  std::optional<ContainerRef> containerOfPid(uint32_t pid);

  // After a lookup of cgroup_id found nothing: true when a later rescan
  // could still find it (not cached, and not known gone), e.g. a cgroup made
  // since the last scan while rescans were throttled.
  bool mayAppear(uint64_t cgroup_id) const {
    return entries_.count(cgroup_id) == 0 && !(options_.monotonic_ids && cgroup_id <= gone_at_or_below_);
  }

  // Scans the tree now, regardless of the interval (at start, to warm the
  // cache). False when the mount could not be read.
  bool rescan();

  CgroupResolverStats stats() const;
  const std::string& mount() const { return mount_; }

private:
  struct Entry {
    std::string path;
    std::optional<ContainerRef> container;
    bool parsed = false; // container holds the parse of path
    uint64_t seen = 0; // the last scan that found it
    uint64_t used = 0; // use_clock_ at the last lookup, for eviction
  };

  // The entry of cgroup_id, rescanning on a miss when allowed; nullptr
  // when unknown.
  Entry* lookup(uint64_t cgroup_id);
  uint64_t now() const;
  // Walks the tree and merges what it found into the cache, keeping wanted
  // (0: none) through the cap; false when the mount could not be opened.
  bool scan(uint64_t wanted);
  // Evicts the least recently used entries beyond max_entries; how many.
  size_t enforceCap();

  std::string mount_;
  CgroupResolverOptions options_;
  std::unordered_map<uint64_t, Entry> entries_;
  uint64_t scans_ = 0; // scans merged, numbering Entry::seen
  uint64_t use_clock_ = 0;
  bool scanned_ = false;
  uint64_t last_scan_ns_ = 0;
  uint64_t max_id_seen_ = 0; // largest id any complete scan found
  uint64_t gone_at_or_below_ = 0; // ids up to this one that are not cached are gone
  bool warned_ = false;
  CgroupResolverStats stats_;
};

} // namespace vigil::enrich
