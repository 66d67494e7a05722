#include "collectors/syscall/syscall_bpf.h"

#include "collectors/runtime/rate_limit.h"

#include "collectors/runtime/bpf_env.h"
#include "collectors/syscall/syscall_table.h"
#include "syscall.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace vigil::syscall {

using runtime::errnoText;

namespace {

// The normalised form of a prefix: absolute, no trailing '/', no empty or
// "." or ".." components.
Result<std::string> normalizePrefix(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return makeError("watched path '{}' must be absolute", path);
  }
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i + 1);
    if (j == std::string::npos) {
      j = path.size();
    }
    std::string_view part(path.data() + i + 1, j - i - 1);
    if (part == "." || part == "..") {
      return makeError("watched path '{}' must not contain '.' or '..'", path);
    }
    if (!part.empty()) {
      out += '/';
      out += part;
    }
    i = j;
  }
  if (out.empty()) {
    out = "/";
  }
  if (out.size() >= VIGIL_SYS_PREFIX_CAP) {
    return makeError("watched path '{}' is longer than {} bytes", path, VIGIL_SYS_PREFIX_CAP - 1);
  }
  return out;
}

} // namespace

Result<HookMode> parseHookMode(std::string_view text) {
  if (text == "auto") {
    return HookMode::Auto;
  }
  if (text == "tracepoint") {
    return HookMode::Tracepoint;
  }
  if (text == "dispatcher") {
    return HookMode::Dispatcher;
  }
  return makeError("unknown syscall hook mode '{}' (expected auto, tracepoint or dispatcher)", text);
}

std::string_view hookModeName(HookMode mode) {
  switch (mode) {
  case HookMode::Auto:
    return "auto";
  case HookMode::Tracepoint:
    return "tracepoint";
  case HookMode::Dispatcher:
    return "dispatcher";
  }
  return "?";
}

Result<uint16_t> parseAccess(std::string_view text) {
  if (text == "read") {
    return uint16_t(VIGIL_ACCESS_READ);
  }
  if (text == "write") {
    return uint16_t(VIGIL_ACCESS_WRITE);
  }
  if (text == "any") {
    return uint16_t(VIGIL_ACCESS_READ | VIGIL_ACCESS_WRITE);
  }
  return makeError("unknown access '{}' (expected read, write or any)", text);
}

std::string_view accessName(uint16_t access) {
  switch (access) {
  case VIGIL_ACCESS_READ:
    return "read";
  case VIGIL_ACCESS_WRITE:
    return "write";
  default:
    return "any";
  }
}

SyscallOptions defaultOptions() {
  SyscallOptions o;
  for (const char* name : defaultTraced()) {
    o.trace.emplace_back(name);
  }
  constexpr uint16_t kAny = VIGIL_ACCESS_READ | VIGIL_ACCESS_WRITE;
  constexpr uint16_t kWrite = VIGIL_ACCESS_WRITE;
  o.watch = {
      // Credentials and secrets: any access.
      {"/etc/shadow", kAny},
      {"/etc/gshadow", kAny},
      {"/etc/sudoers", kAny},
      {"/etc/sudoers.d", kAny},
      {"/root/.ssh", kAny},
      {"/var/run/secrets/kubernetes.io", kAny},
      {"/run/secrets/kubernetes.io", kAny},
      // System configuration, boot, binaries and libraries: changes.
      {"/etc", kWrite},
      {"/boot", kWrite},
      {"/bin", kWrite},
      {"/sbin", kWrite},
      {"/lib", kWrite},
      {"/usr/bin", kWrite},
      {"/usr/sbin", kWrite},
      {"/usr/lib", kWrite},
      {"/usr/local/bin", kWrite},
  };
  return o;
}

Result<std::unique_ptr<SyscallBpf>> SyscallBpf::create(const SyscallOptions& options, const SharedMaps& shared) {
  // Which syscalls, and how: traced wins over counted.
  std::map<uint32_t, vigil_sys_spec> specs;
  for (const auto& name : options.count) {
    auto nr = syscallNumber(name);
    if (!nr) {
      return makeError("unknown syscall '{}' in syscalls.count", name);
    }
    specs[*nr] = kernelSpec(name, VIGIL_SYS_COUNT);
  }
  for (const auto& name : options.trace) {
    auto nr = syscallNumber(name);
    if (!nr) {
      return makeError("unknown syscall '{}' in syscalls.trace", name);
    }
    specs[*nr] = kernelSpec(name, VIGIL_SYS_TRACE);
  }
  if (options.watch.size() > VIGIL_SYS_PREFIXES) {
    return makeError("{} watched paths given, at most {} are supported", options.watch.size(), VIGIL_SYS_PREFIXES);
  }
  std::vector<WatchPrefix> prefixes;
  for (const auto& w : options.watch) {
    auto norm = normalizePrefix(w.path);
    if (!norm) {
      return norm.error();
    }
    if (w.access == 0 || (w.access & ~uint16_t(VIGIL_ACCESS_READ | VIGIL_ACCESS_WRITE)) != 0) {
      return makeError("watched path '{}': access must be read, write or any", w.path);
    }
    prefixes.push_back({*norm, w.access});
  }
  if (options.include_cgroups.size() > VIGIL_SYS_CGROUPS || options.exclude_cgroups.size() > VIGIL_SYS_CGROUPS) {
    return makeError("at most {} cgroups each in syscalls.cgroups.include and exclude", VIGIL_SYS_CGROUPS);
  }

  std::unique_ptr<SyscallBpf> self(new SyscallBpf());
  self->prefixes_ = prefixes;

  // cgroup filters: open each directory now, so a typo fails at start.
  std::vector<int> include_fds, exclude_fds;
  if (!options.include_cgroups.empty() || !options.exclude_cgroups.empty()) {
    std::string root = runtime::cgroup2Mount();
    if (root.empty()) {
      return makeError("no cgroup2 filesystem is mounted (cgroup filters need cgroup v2)");
    }
    for (const auto* list : {&options.include_cgroups, &options.exclude_cgroups}) {
      for (const auto& path : *list) {
        std::string full = path.rfind(root, 0) == 0 ? path : root + "/" + path;
        int fd = open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
          return makeError("cgroup '{}' ({}): {}", path, full, errnoText(errno));
        }
        self->cgroup_fds_.push_back(fd);
        (list == &options.include_cgroups ? include_fds : exclude_fds).push_back(fd);
      }
    }
  }

  std::vector<HookMode> families;
  if (options.hooks == HookMode::Auto) {
    // Per-syscall tracepoints cost unwatched syscalls least
    // (bench/results/syscall_overhead.md); the dispatcher covers syscalls
    // that have no tracepoint of their own.
    families = {HookMode::Tracepoint, HookMode::Dispatcher};
  } else {
    families = {options.hooks};
  }

  std::string failures;
  for (HookMode family : families) {
    // Per-syscall tracepoints are found by their tracefs ids: a process that
    // cannot read tracefs (mode 0700, and this one is not its owner nor has
    // CAP_DAC_READ_SEARCH) cannot attach them. Say so, and let auto fall
    // back to the dispatcher, which needs no tracefs.
    if (family == HookMode::Tracepoint) {
      if (auto readable = syscallEventsReadable(); !readable) {
        auto msg = fmt::format("tracepoint: {}", readable.error().message());
        spdlog::warn("syscall hooks: {}", msg);
        failures += (failures.empty() ? "" : "; ") + msg;
        continue;
      }
    }
    auto* skel = syscall_bpf__open();
    if (!skel) {
      return makeError("open: {}", errnoText(errno));
    }
    skel->rodata->self_tgid = options.self_tgid;
    skel->rodata->vigil_wakeup_bytes = shared.wakeup_bytes;
    skel->rodata->nr_prefixes = uint32_t(prefixes.size());
    for (size_t i = 0; i < prefixes.size(); ++i) {
      char* dst = const_cast<char*>(skel->rodata->prefixes[i]);
      std::memcpy(dst, prefixes[i].path.c_str(), prefixes[i].path.size() + 1);
      skel->rodata->prefix_len[i] = uint32_t(prefixes[i].path.size());
      skel->rodata->prefix_access[i] = prefixes[i].access;
      uint64_t head = 0, mask = 0;
      size_t n = std::min<size_t>(prefixes[i].path.size(), sizeof(head));
      std::memcpy(&head, prefixes[i].path.data(), n);
      std::memset(&mask, 0xff, n);
      skel->rodata->prefix_head[i] = head;
      skel->rodata->prefix_head_mask[i] = mask;
    }
    const auto rate = runtime::rateCost(options.rate_limit_per_second, options.rate_limit_burst);
    skel->rodata->rate_cost_ns = rate.cost_ns;
    skel->rodata->rate_burst_ns = rate.burst_ns;
    skel->rodata->nr_include_cgroups = uint32_t(include_fds.size());
    skel->rodata->nr_exclude_cgroups = uint32_t(exclude_fds.size());

    bool dispatcher = family == HookMode::Dispatcher;
    bpf_program__set_autoload(skel->progs.vigil_sys_enter_btf, dispatcher);
    bpf_program__set_autoload(skel->progs.vigil_sys_exit_btf, dispatcher);
    bpf_program__set_autoload(skel->progs.vigil_sys_enter_tp, !dispatcher);
    bpf_program__set_autoload(skel->progs.vigil_sys_exit_tp, !dispatcher);

    Status st = runtime::reuseSharedMaps(shared, skel->maps.vigil_events, skel->maps.vigil_counters,
                                        skel->maps.vigil_procs);
    if (st) {
      if (bpf_map__set_max_entries(skel->maps.vigil_sys_pending, options.pending_entries) != 0 ||
          bpf_map__set_max_entries(skel->maps.vigil_sys_pending_data, options.pending_entries) != 0 ||
          bpf_map__set_max_entries(skel->maps.vigil_sys_counts, options.count_entries) != 0) {
        st = makeError("map sizes: {}", errnoText(errno));
      }
    }
    if (!st) {
      syscall_bpf__destroy(skel);
      return st.error();
    }
    if (int err = syscall_bpf__load(skel); err != 0) {
      auto msg = fmt::format("{}: load: {}{}", hookModeName(family), errnoText(err),
                             err == -EPERM ? " (needs CAP_BPF and CAP_PERFMON, or root)" : "");
      syscall_bpf__destroy(skel);
      spdlog::warn("syscall hooks: {}", msg);
      failures += (failures.empty() ? "" : "; ") + msg;
      continue;
    }
    self->skel_ = skel;
    self->hooks_ = family;

    // Specs first, then the filters, then the hooks: nothing runs half-configured.
    int specs_fd = bpf_map__fd(skel->maps.vigil_sys_specs);
    for (const auto& [nr, spec] : specs) {
      if (bpf_map_update_elem(specs_fd, &nr, &spec, BPF_ANY) != 0) {
        return makeError("write spec of syscall {}: {}", syscallName(nr), errnoText(errno));
      }
    }
    int cg_fd = bpf_map__fd(skel->maps.vigil_sys_cgroups);
    for (size_t i = 0; i < include_fds.size(); ++i) {
      uint32_t key = uint32_t(i);
      if (bpf_map_update_elem(cg_fd, &key, &include_fds[i], BPF_ANY) != 0) {
        return makeError("include cgroup {}: {}", options.include_cgroups[i], errnoText(errno));
      }
    }
    for (size_t i = 0; i < exclude_fds.size(); ++i) {
      uint32_t key = uint32_t(VIGIL_SYS_CGROUPS + i);
      if (bpf_map_update_elem(cg_fd, &key, &exclude_fds[i], BPF_ANY) != 0) {
        return makeError("exclude cgroup {}: {}", options.exclude_cgroups[i], errnoText(errno));
      }
    }

    Status attached;
    if (dispatcher) {
      if (int err = syscall_bpf__attach(skel); err != 0) {
        attached = makeError("attach: {}", errnoText(err));
      }
    } else {
      // A call without memory arguments is recorded whole at its exit:
      // its enter tracepoint is not needed.
      std::vector<std::pair<uint32_t, bool>> numbers;
      for (const auto& [nr, spec] : specs) {
        numbers.push_back({nr, spec.has_data != 0});
      }
      attached = self->attachTracepoints(numbers);
    }
    if (attached) {
      spdlog::info("syscall hooks: {}{}; {} syscalls watched, {} path prefixes, {} cgroup filters",
                   hookModeName(family), failures.empty() ? "" : " (after fallback)", specs.size(),
                   prefixes.size(), include_fds.size() + exclude_fds.size());
      return self;
    }
    auto msg = fmt::format("{}: {}", hookModeName(family), attached.error().message());
    spdlog::warn("syscall hooks: {}", msg);
    failures += (failures.empty() ? "" : "; ") + msg;
    self->detach();
    syscall_bpf__destroy(skel);
    self->skel_ = nullptr;
  }
  return makeError("no syscall hook family attached: {}", failures);
}

namespace {

// Syscalls whose tracepoint is named after the kernel's SYSCALL_DEFINE, not
// after the syscall table.
std::string tracepointName(const std::string& name) {
  static const std::map<std::string, std::string> renamed = {
      {"umount2", "umount"}, {"stat", "newstat"},   {"fstat", "newfstat"},
      {"lstat", "newlstat"}, {"uname", "newuname"}, {"sendfile", "sendfile64"},
  };
  auto it = renamed.find(name);
  return it == renamed.end() ? name : it->second;
}

// The tracefs directory of the enter tracepoint tp_name
// (events/syscalls/sys_enter_<tp_name>), under either mount point; nullopt
// when neither has it.
std::optional<std::string> enterEventDir(const std::string& tp_name) {
  for (const char* tracefs : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::string dir = fmt::format("{}/events/syscalls/sys_enter_{}", tracefs, tp_name);
    if (access(dir.c_str(), F_OK) == 0) {
      return dir;
    }
  }
  return std::nullopt;
}

} // namespace

Status syscallEventsReadable() {
  int err = ENOENT;
  std::string tried;
  for (const char* tracefs : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::string dir = fmt::format("{}/events/syscalls", tracefs);
    if (access(dir.c_str(), R_OK | X_OK) == 0) {
      return okStatus();
    }
    if (errno == EACCES || errno == EPERM) {
      err = errno;
      tried = dir;
    }
  }
  if (err != ENOENT) {
    return makeError("{} is not readable by this process ({}): per-syscall tracepoints need root, or "
                     "CAP_DAC_READ_SEARCH to read tracefs",
                     tried, errnoText(err));
  }
  return makeError("no syscall tracepoints in tracefs (is it mounted at /sys/kernel/tracing?)");
}

std::optional<std::vector<std::string>> SyscallBpf::argNames(uint32_t nr) {
  auto dir = enterEventDir(tracepointName(syscallName(nr)));
  if (!dir) {
    return std::nullopt;
  }
  std::ifstream in(*dir + "/format");
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseEnterFormat(text.str());
}

Status SyscallBpf::attachTracepoints(const std::vector<std::pair<uint32_t, bool>>& numbers) {
  std::string missing;
  for (auto [nr, needs_enter] : numbers) {
    std::string name = syscallName(nr);
    std::string tp_name = tracepointName(name);
    // A syscall the kernel was built without (modules, kexec, ...) has no
    // tracepoint: calling it only returns ENOSYS.
    if (!enterEventDir(tp_name)) {
      missing += (missing.empty() ? "" : ", ") + name;
      continue;
    }
    for (bool enter : {true, false}) {
      if (enter && !needs_enter) {
        continue;
      }
      std::string tp = fmt::format("sys_{}_{}", enter ? "enter" : "exit", tp_name);
      bpf_program* prog = enter ? skel_->progs.vigil_sys_enter_tp : skel_->progs.vigil_sys_exit_tp;
      bpf_link* link = bpf_program__attach_tracepoint(prog, "syscalls", tp.c_str());
      if (!link) {
        int err = errno;
        return makeError("attach syscalls:{}: {}", tp, errnoText(err));
      }
      links_.push_back(link);
    }
  }
  if (!missing.empty()) {
    spdlog::warn("syscall hooks: no tracepoint for {} (not built into this kernel: calls fail with ENOSYS); "
                 "syscalls.hooks: dispatcher also reports those attempts",
                 missing);
  }
  return okStatus();
}

SyscallBpf::~SyscallBpf() {
  detach();
  if (skel_) {
    syscall_bpf__destroy(skel_);
  }
  for (int fd : cgroup_fds_) {
    close(fd);
  }
}

void SyscallBpf::detach() {
  runtime::destroyLinks(links_);
  if (skel_) {
    syscall_bpf__detach(skel_);
  }
}

std::vector<runtime::IdleSuppressed> SyscallBpf::takeIdleSuppressed(uint64_t now_ns, uint64_t idle_ns) {
  return runtime::takeIdleSuppressed(bpf_map__fd(skel_->maps.vigil_sys_rate), now_ns, idle_ns);
}

Result<std::map<std::pair<uint64_t, uint32_t>, uint64_t>> SyscallBpf::readCounts() const {
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> out;
  int fd = bpf_map__fd(skel_->maps.vigil_sys_counts);
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    return makeError("cannot count possible CPUs: {}", errnoText(ncpu));
  }
  std::vector<uint64_t> values(size_t(ncpu), 0);
  vigil_sys_count_key key{}, next{};
  vigil_sys_count_key* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) {
      continue; // deleted meanwhile
    }
    uint64_t sum = 0;
    for (uint64_t v : values) {
      sum += v;
    }
    out[{key.cgroup_id, key.nr}] = sum;
  }
  return out;
}

} // namespace vigil::syscall
