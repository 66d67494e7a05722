#include "collectors/runtime/bpf_env.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
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

namespace vigil::runtime {
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

namespace {

// Undoes the octal escapes (\040 for ' ', \011, \012, \134) of a
// /proc/self/mountinfo field.
std::string unescapeMountField(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      std::string_view digits = field.substr(i + 1, 3);
      if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out += static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

} // namespace

std::optional<std::string> cgroup2MountPoint(std::string_view mountinfo) {
  while (!mountinfo.empty()) {
    size_t end = mountinfo.find('\n');
    std::string_view line = mountinfo.substr(0, end);
    mountinfo = end == std::string_view::npos ? std::string_view() : mountinfo.substr(end + 1);

    // "<id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <type> <source> <super options>"
    size_t separator = line.find(" - ");
    if (separator == std::string_view::npos) {
      continue;
    }
    std::string_view type = line.substr(separator + 3);
    type = type.substr(0, type.find(' '));
    if (type != "cgroup2") {
      continue;
    }
    std::string_view fields = line.substr(0, separator);
    for (int skip = 0; skip < 4; ++skip) {
      size_t space = fields.find(' ');
      if (space == std::string_view::npos) {
        fields = {};
        break;
      }
      fields.remove_prefix(space + 1);
    }
    std::string_view mount_point = fields.substr(0, fields.find(' '));
    if (!mount_point.empty()) {
      return unescapeMountField(mount_point);
    }
  }
  return std::nullopt;
}

std::string cgroup2Mount() {
  std::stringstream mountinfo;
  mountinfo << std::ifstream("/proc/self/mountinfo").rdbuf();
  return cgroup2MountPoint(mountinfo.str()).value_or("");
}

} // namespace vigil::runtime
