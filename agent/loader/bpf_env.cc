#include "agent/loader/bpf_env.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>

namespace vigil::loader {
namespace {

constexpr long kTracefsMagic = 0x74726163;
constexpr long kBpffsMagic = 0xcafe4a11;

bool g_libbpf_verbose = false;

int libbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !g_libbpf_verbose) {
    return 0;
  }
  // Verifier logs arrive as one message of many KiB: size the buffer to fit.
  va_list sizing;
  va_copy(sizing, args);
  int n = vsnprintf(nullptr, 0, format, sizing);
  va_end(sizing);
  if (n <= 0) {
    return n;
  }
  std::string text(size_t(n) + 1, '\0');
  vsnprintf(text.data(), text.size(), format, args);
  std::string_view msg(text.data(), size_t(n));
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
    msg.remove_suffix(1);
  }
  switch (level) {
  case LIBBPF_WARN:
    spdlog::warn("{}", msg);
    break;
  case LIBBPF_INFO:
    spdlog::info("{}", msg);
    break;
  case LIBBPF_DEBUG:
    spdlog::debug("{}", msg);
    break;
  }
  return n;
}

bool isFs(const char* path, long magic) {
  struct statfs st {};
  return statfs(path, &st) == 0 && long(st.f_type) == magic;
}

Result<bool> ensureMounted(const char* path, const char* type, long magic) {
  if (isFs(path, magic)) {
    return false;
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    return makeError("cannot create {} for {}: {}", path, type, strerror(errno));
  }
  if (mount(type, path, type, 0, nullptr) != 0) {
    return makeError("cannot mount {} at {}: {} (needs CAP_SYS_ADMIN)", type, path, strerror(errno));
  }
  spdlog::info("mounted {} at {}", type, path);
  return true;
}

} // namespace

void routeLibbpfLogToSpdlog(bool verbose) {
  g_libbpf_verbose = verbose;
  libbpf_set_print(libbpfPrint);
}

Result<BpfEnvReport> prepareBpfEnvironment() {
  BpfEnvReport report;

  // tracefs: classic tracepoints are attached by id read from tracefs. An
  // already mounted debugfs exposes it too.
  if (!isFs("/sys/kernel/tracing", kTracefsMagic) && !isFs("/sys/kernel/debug/tracing", kTracefsMagic)) {
    auto mounted = ensureMounted("/sys/kernel/tracing", "tracefs", kTracefsMagic);
    if (!mounted) {
      // tp_btf programs work without it; the loader reports if a fallback needs it.
      spdlog::warn("{}; classic tracepoints will not attach", mounted.error().message());
    } else {
      report.tracefs_mounted_by_us = *mounted;
    }
  }

  auto bpffs = ensureMounted("/sys/fs/bpf", "bpf", kBpffsMagic);
  if (!bpffs) {
    spdlog::warn("{}; pinning is unavailable", bpffs.error().message());
  } else {
    report.bpffs_mounted_by_us = *bpffs;
  }

  rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  if (setrlimit(RLIMIT_MEMLOCK, &unlimited) == 0) {
    report.memlock_raised = true;
  } else {
    rlimit cur{};
    getrlimit(RLIMIT_MEMLOCK, &cur);
    report.memlock_warning =
        fmt::format("cannot raise RLIMIT_MEMLOCK ({}; current soft limit {}); fine on kernels >= 5.11, "
                    "which charge BPF memory to the cgroup",
                    strerror(errno), cur.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                                   : std::to_string(cur.rlim_cur));
    spdlog::warn("{}", report.memlock_warning);
  }
  return report;
}

void destroyLinks(std::vector<bpf_link*>& links) {
  for (bpf_link* link : links) {
    bpf_link__destroy(link);
  }
  links.clear();
}

Status reuseSharedMaps(const SharedMaps& shared, bpf_map* events, bpf_map* counters, bpf_map* procs) {
  struct Reuse {
    bpf_map* map;
    int fd;
    const char* what;
  };
  for (const Reuse& r : {Reuse{events, shared.events_fd, "ring buffer"}, Reuse{counters, shared.counters_fd, "counters"},
                         Reuse{procs, shared.procs_fd, "process map"}}) {
    if (r.fd >= 0) {
      if (int err = bpf_map__reuse_fd(r.map, r.fd); err != 0) {
        return makeError("share {}: {}", r.what, errnoText(err));
      }
    }
  }
  return okStatus();
}

std::string errnoText(int err) { return strerror(err < 0 ? -err : err); }

std::string cgroup2Mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype == "cgroup2") {
      std::istringstream head(line);
      std::string id, parent, devno, root, mnt;
      head >> id >> parent >> devno >> root >> mnt;
      return mnt;
    }
  }
  return {};
}

} // namespace vigil::loader
