#include "agent/enrich/cgroup_resolver.h"

#include <spdlog/spdlog.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace vigil::enrich {
namespace {

constexpr size_t kMaxProcCgroupBytes = 64 * 1024;

// One walk of the tree: what it found and whether it saw all of it.
struct Scan {
  size_t max_dirs;
  int max_depth;
  std::vector<std::pair<uint64_t, std::string>> found; // id, path
  bool truncated = false;
};

// Records the subdirectories of the directory open as fd (whose path is
// path, "" for the mount's root, at depth levels below it) and descends
// into them. Takes fd.
void walkDirectory(int fd, const std::string& path, int depth, Scan& scan) {
  DIR* dir = fdopendir(fd);
  if (!dir) {
    close(fd);
    scan.truncated = true;
    return;
  }
  while (struct dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN) {
      continue; // the cgroup's interface files
    }
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
        continue;
      }
    }
    if (depth + 1 > scan.max_depth || scan.found.size() >= scan.max_dirs) {
      scan.truncated = true;
      if (scan.found.size() >= scan.max_dirs) {
        break;
      }
      continue;
    }
    int child = openat(dirfd(dir), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      if (errno != ENOENT && errno != ENOTDIR) {
        scan.truncated = true; // there, but unreadable: the scan is not complete
      }
      continue; // removed since readdir
    }
    struct stat st;
    if (fstat(child, &st) != 0) {
      close(child);
      scan.truncated = true;
      continue;
    }
    std::string child_path = path;
    child_path += '/';
    child_path += name;
    scan.found.emplace_back(static_cast<uint64_t>(st.st_ino), child_path);
    walkDirectory(child, child_path, depth + 1, scan);
  }
  closedir(dir);
}

} // namespace

CgroupResolver::CgroupResolver(std::string cgroup2_mount, CgroupResolverOptions options)
    : mount_(std::move(cgroup2_mount)), options_(std::move(options)) {
  options_.max_entries = std::max<size_t>(options_.max_entries, 1);
  options_.max_scan_dirs = std::max<size_t>(options_.max_scan_dirs, 1);
}

uint64_t CgroupResolver::now() const {
  if (options_.now_ns) {
    return options_.now_ns();
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

bool CgroupResolver::rescan() { return scan(0); }

bool CgroupResolver::scan(uint64_t wanted) {
  ++stats_.rescans;
  scanned_ = true;
  last_scan_ns_ = now();

  int fd = open(mount_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int err = errno;
    if (fd >= 0) {
      close(fd);
    }
    ++stats_.scan_errors;
    gone_at_or_below_ = 0;
    if (!warned_) {
      spdlog::warn("cgroup resolver: cannot read the cgroup2 mount {}: {}; containers stay unknown", mount_,
                   std::strerror(err));
      warned_ = true;
    }
    return false;
  }
  Scan walk{options_.max_scan_dirs, options_.max_depth, {}, false};
  walk.found.emplace_back(static_cast<uint64_t>(st.st_ino), "/");
  walkDirectory(fd, "", 0, walk);
  if (walk.truncated) {
    ++stats_.scan_truncated;
  }

  // Merge: new ids in, moved paths updated, and after a complete scan the
  // ids no longer there out.
  ++scans_;
  uint64_t scan_max = 0;
  for (auto& [id, path] : walk.found) {
    scan_max = std::max(scan_max, id);
    auto [it, inserted] = entries_.try_emplace(id);
    Entry& entry = it->second;
    if (inserted || entry.path != path) {
      entry.path = std::move(path);
      entry.container.reset();
      entry.parsed = false;
    }
    entry.seen = scans_;
    if (id == wanted) {
      entry.used = ++use_clock_;
    }
  }
  if (!walk.truncated) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.seen != scans_) {
        it = entries_.erase(it);
        ++stats_.vanished;
      } else {
        ++it;
      }
    }
  }
  size_t evicted = enforceCap();

  // Every id up to the largest that an earlier scan saw existed before this
  // scan began; if this scan saw the whole tree and kept all of it, such an
  // id that is not cached now is gone for good.
  gone_at_or_below_ = (!walk.truncated && evicted == 0) ? max_id_seen_ : 0;
  max_id_seen_ = std::max(max_id_seen_, scan_max);
  stats_.entries = entries_.size();
  return true;
}

size_t CgroupResolver::enforceCap() {
  if (entries_.size() <= options_.max_entries) {
    return 0;
  }
  std::vector<std::pair<uint64_t, uint64_t>> by_use; // used, id
  by_use.reserve(entries_.size());
  for (const auto& [id, entry] : entries_) {
    by_use.emplace_back(entry.used, id);
  }
  size_t excess = entries_.size() - options_.max_entries;
  std::nth_element(by_use.begin(), by_use.begin() + static_cast<std::ptrdiff_t>(excess), by_use.end());
  for (size_t i = 0; i < excess; ++i) {
    entries_.erase(by_use[i].second);
  }
  stats_.evicted += excess;
  return excess;
}

CgroupResolver::Entry* CgroupResolver::lookup(uint64_t cgroup_id) {
  auto it = entries_.find(cgroup_id);
  if (it != entries_.end()) {
    ++stats_.hits;
    it->second.used = ++use_clock_;
    return &it->second;
  }
  ++stats_.misses;
  if (options_.monotonic_ids && cgroup_id <= gone_at_or_below_) {
    ++stats_.gone;
    ++stats_.unresolved;
    return nullptr;
  }
  if (scanned_ && now() - last_scan_ns_ < options_.rescan_interval_ns) {
    ++stats_.throttled;
    ++stats_.unresolved;
    return nullptr;
  }
  scan(cgroup_id);
  it = entries_.find(cgroup_id);
  if (it == entries_.end()) {
    ++stats_.unresolved;
    return nullptr;
  }
  return &it->second;
}

std::optional<std::string> CgroupResolver::path(uint64_t cgroup_id) {
  Entry* entry = lookup(cgroup_id);
  if (!entry) {
    return std::nullopt;
  }
  return entry->path;
}

std::optional<ContainerRef> CgroupResolver::container(uint64_t cgroup_id) {
  Entry* entry = lookup(cgroup_id);
  if (!entry) {
    return std::nullopt;
  }
  if (!entry->parsed) {
    entry->container = parseContainerCgroup(entry->path);
    entry->parsed = true;
  }
  return entry->container;
}

std::optional<ContainerRef> CgroupResolver::containerOfPid(uint32_t pid) {
  ++stats_.pid_lookups;
  std::string file = options_.proc_root + "/" + std::to_string(pid) + "/cgroup";
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ++stats_.pid_errors;
    return std::nullopt;
  }
  std::string content(kMaxProcCgroupBytes, '\0');
  size_t used = 0;
  while (used < content.size()) {
    ssize_t n = read(fd, content.data() + used, content.size() - used);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      close(fd);
      ++stats_.pid_errors;
      return std::nullopt;
    }
    if (n == 0) {
      break;
    }
    used += static_cast<size_t>(n);
  }
  close(fd);
  content.resize(used);
  return parseProcCgroupFile(content);
}

CgroupResolverStats CgroupResolver::stats() const {
  CgroupResolverStats out = stats_;
  out.entries = entries_.size();
  return out;
}

} // namespace vigil::enrich
