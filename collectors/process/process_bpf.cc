#include "collectors/process/process_bpf.h"

#include "collectors/runtime/bpf_env.h"
#include "collectors/runtime/iterator.h"
#include "process.skel.h"
#include "shared/process.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace vigil::process {

using runtime::errnoText;

Result<HookMode> parseHookMode(std::string_view text) {
  if (text == "auto") {
    return HookMode::Auto;
  }
  if (text == "tp_btf" || text == "btf") {
    return HookMode::Btf;
  }
  if (text == "tracepoint") {
    return HookMode::Tracepoint;
  }
  return makeError("unknown hook mode '{}' (expected auto, tp_btf or tracepoint)", text);
}

Result<SnapshotMode> parseSnapshotMode(std::string_view text) {
  if (text == "auto") {
    return SnapshotMode::Auto;
  }
  if (text == "iterator") {
    return SnapshotMode::Iterator;
  }
  if (text == "proc") {
    return SnapshotMode::Proc;
  }
  return makeError("unknown snapshot mode '{}' (expected auto, iterator or proc)", text);
}

std::string_view hookModeName(HookMode mode) {
  switch (mode) {
  case HookMode::Auto:
    return "auto";
  case HookMode::Btf:
    return "tp_btf";
  case HookMode::Tracepoint:
    return "tracepoint";
  }
  return "?";
}

std::string_view snapshotModeName(SnapshotMode mode) {
  switch (mode) {
  case SnapshotMode::Auto:
    return "auto";
  case SnapshotMode::Iterator:
    return "iterator";
  case SnapshotMode::Proc:
    return "proc";
  }
  return "?";
}

Result<std::unique_ptr<ProcessBpf>> ProcessBpf::create(const ProcessBpfOptions& options,
                                                       const runtime::SharedMaps& shared) {
  if (options.argv_max == 0 || options.argv_max > 32768) {
    return makeError("argv bound {} must be between 1 and 32768 bytes", options.argv_max);
  }

  std::vector<HookMode> families;
  if (options.hooks == HookMode::Auto) {
    families = {HookMode::Btf, HookMode::Tracepoint};
  } else {
    families = {options.hooks};
  }
  std::vector<bool> iterator_choices;
  if (options.snapshot == SnapshotMode::Auto) {
    iterator_choices = {true, false};
  } else {
    iterator_choices = {options.snapshot == SnapshotMode::Iterator};
  }

  std::string failures;
  bool permission_denied = false;
  for (HookMode family : families) {
    for (bool with_iterator : iterator_choices) {
      auto loaded = tryLoad(options, shared, family, with_iterator, permission_denied);
      if (loaded) {
        spdlog::info("process hooks: {}{}; processes at start from {}", hookModeName(family),
                     failures.empty() ? "" : " (after fallback)",
                     with_iterator ? "the BPF task iterator" : "/proc");
        return loaded;
      }
      spdlog::warn("process hooks: {} with{} task iterator failed: {}", hookModeName(family),
                   with_iterator ? "" : "out", loaded.error().message());
      failures += fmt::format("{}{}{}: {}", failures.empty() ? "" : "; ", hookModeName(family),
                              with_iterator ? "+iterator" : "", loaded.error().message());
    }
  }
  return makeError("no process hook family loaded: {}{}", failures,
                   permission_denied ? " (loading tracing programs needs CAP_BPF and CAP_PERFMON, or root)" : "");
}

Result<std::unique_ptr<ProcessBpf>> ProcessBpf::tryLoad(const ProcessBpfOptions& options,
                                                        const runtime::SharedMaps& shared, HookMode hooks,
                                                        bool with_iterator, bool& permission_denied) {
  std::unique_ptr<ProcessBpf> self(new ProcessBpf());
  self->hooks_ = hooks;
  self->has_iterator_ = with_iterator;

  self->skel_ = process_bpf__open();
  if (!self->skel_) {
    return makeError("open: {}", errnoText(errno));
  }
  auto* skel = self->skel_;
  skel->rodata->argv_max = options.argv_max;
  skel->rodata->self_tgid = options.self_tgid;
  skel->rodata->vigil_wakeup_bytes = shared.wakeup_bytes;

  bool btf = hooks == HookMode::Btf;
  bpf_program__set_autoload(skel->progs.vigil_exec_btf, btf);
  bpf_program__set_autoload(skel->progs.vigil_fork_btf, btf);
  bpf_program__set_autoload(skel->progs.vigil_exit_btf, btf);
  bpf_program__set_autoload(skel->progs.vigil_exec_tp, !btf);
  bpf_program__set_autoload(skel->progs.vigil_fork_tp, !btf);
  bpf_program__set_autoload(skel->progs.vigil_exit_tp, !btf);
  bpf_program__set_autoload(skel->progs.vigil_task_iter, with_iterator);
  bpf_program__set_autoattach(skel->progs.vigil_task_iter, false);

  if (auto st = runtime::reuseSharedMaps(shared, skel->maps.vigil_events, skel->maps.vigil_counters,
                                         skel->maps.vigil_procs);
      !st) {
    return st.error();
  }
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    return makeError("cannot count possible CPUs: {}", errnoText(ncpu));
  }
  skel->rodata->vigil_nr_cpus = uint32_t(ncpu);
  // One slot per CPU for the hooks, one per CPU for the task iterator.
  if (int err = bpf_map__set_max_entries(skel->maps.vigil_exec_heap, 2 * uint32_t(ncpu)); err != 0) {
    return makeError("exec scratch size: {}", errnoText(err));
  }
  if (int err = process_bpf__load(skel); err != 0) {
    permission_denied |= err == -EPERM;
    return makeError("load: {}", errnoText(err));
  }
  if (int err = process_bpf__attach(skel); err != 0) {
    permission_denied |= err == -EPERM;
    return makeError("attach: {}", errnoText(err));
  }
  return self;
}

ProcessBpf::~ProcessBpf() {
  if (skel_) {
    process_bpf__destroy(skel_);
  }
}

void ProcessBpf::detach() { process_bpf__detach(skel_); }


Status ProcessBpf::iterateTasks(const std::function<void(std::span<const uint8_t>)>& callback) {
  if (!has_iterator_) {
    return makeError("the task iterator is not loaded");
  }
  bpf_link* link = bpf_program__attach_iter(skel_->progs.vigil_task_iter, nullptr);
  if (!link) {
    return makeError("attach task iterator: {}", errnoText(errno));
  }
  auto status = runtime::readIterator(bpf_link__fd(link), callback);
  bpf_link__destroy(link);
  return status;
}

} // namespace vigil::process
