#include "agent/enrich/process_cache.h"

#include <algorithm>

namespace vigil {
namespace {

// Fields of an image that an exit record lacks (and, but for cwd, that a
// fork child inherits: the child's cwd may have moved since the parent's
// exec, so the cache does not guess it).
void copyImage(const Process& from, Process& to, bool with_cwd) {
  to.set_binary(from.binary());
  to.set_binary_truncated(from.binary_truncated());
  to.mutable_args()->CopyFrom(from.args());
  to.set_args_truncated(from.args_truncated());
  if (with_cwd) {
    to.set_cwd(from.cwd());
    to.set_cwd_truncated(from.cwd_truncated());
  }
  to.set_filename(from.filename());
  to.set_exe_inode(from.exe_inode());
  to.set_exe_dev(from.exe_dev());
}

// The image a caller's event (syscall, flow, DNS) carries: all of it but the
// capability name lists, which the masks say as well and which are in the
// image's exec event. Copying ~80 names per event cost more than the rest of
// the consumer together (bench/results/saturation.md).
void copyCallerImage(const Process& from, Process& to) {
  copyImage(from, to, true);
  to.set_pid(from.pid());
  to.set_tid(from.tid());
  to.set_ppid(from.ppid());
  to.set_exec_id(from.exec_id());
  to.set_parent_exec_id(from.parent_exec_id());
  to.set_comm(from.comm());
  *to.mutable_creds() = from.creds();
  to.mutable_caps()->set_effective_mask(from.caps().effective_mask());
  to.mutable_caps()->set_permitted_mask(from.caps().permitted_mask());
  *to.mutable_ns() = from.ns();
  to.set_cgroup_id(from.cgroup_id());
  *to.mutable_start_time() = from.start_time();
  to.set_start_boot_ns(from.start_boot_ns());
  to.set_source(from.source());
  to.set_kernel_thread(from.kernel_thread());
}

} // namespace

ProcessCache::Entry* ProcessCache::lookup(std::string_view exec_id) {
  auto it = entries_.find(exec_id);
  return it == entries_.end() ? nullptr : &it->second;
}

const Process* ProcessCache::find(std::string_view exec_id) const {
  auto it = entries_.find(exec_id);
  return it == entries_.end() ? nullptr : &it->second.process;
}

const Process* ProcessCache::findByPid(uint32_t pid) const {
  auto it = current_.find(pid);
  return it == current_.end() ? nullptr : find(it->second);
}

std::vector<const Process*> ProcessCache::ancestors(std::string_view exec_id, size_t max_depth) const {
  std::vector<const Process*> chain;
  const Process* p = find(exec_id);
  while (p && chain.size() < max_depth && !p->parent_exec_id().empty()) {
    const Process* parent = find(p->parent_exec_id());
    if (!parent || parent == p) {
      break;
    }
    chain.push_back(parent);
    p = parent;
  }
  return chain;
}

const Process* ProcessCache::parentOf(Process& process) {
  if (!process.parent_exec_id().empty()) {
    if (const Process* p = find(process.parent_exec_id())) {
      ++stats_.parent_hits;
      return p;
    }
  }
  // The parent's id can be off when the kernel map lost it; its pid is not.
  // Adopt the live image's id so the event and the cache agree.
  if (process.ppid() != 0) {
    if (const Process* p = findByPid(process.ppid())) {
      ++stats_.parent_hits;
      process.set_parent_exec_id(p->exec_id());
      return p;
    }
  }
  ++stats_.parent_misses;
  return nullptr;
}

void ProcessCache::insert(Process process) {
  std::string id = process.exec_id();
  auto [it, inserted] = entries_.try_emplace(id);
  Entry& e = it->second;
  if (!inserted) {
    // The same image seen again (snapshot raced an exec): keep the richer
    // record, keep the bookkeeping.
    if (e.ended) {
      if (Entry* parent = lookup(e.process.parent_exec_id())) {
        ++parent->children; // end() released it
      }
    }
    e.process = std::move(process);
    e.ended = false;
    current_[e.process.pid()] = id;
    return;
  }
  e.order = next_order_++;
  if (Entry* parent = lookup(process.parent_exec_id())) {
    ++parent->children;
  }
  e.process = std::move(process);
  current_[e.process.pid()] = id;
  ++stats_.inserts;
  enforceCap();
}

void ProcessCache::end(Entry& entry, uint64_t now_ns) {
  if (entry.ended) {
    return;
  }
  entry.ended = true;
  entry.ended_ns = now_ns;
  if (Entry* parent = lookup(entry.process.parent_exec_id())) {
    if (parent->children > 0) {
      --parent->children;
    }
  }
  auto cur = current_.find(entry.process.pid());
  if (cur != current_.end() && cur->second == entry.process.exec_id()) {
    current_.erase(cur);
  }
}

void ProcessCache::remove(EntryMap::iterator it) {
  Entry& e = it->second;
  if (!e.ended) {
    if (Entry* parent = lookup(e.process.parent_exec_id())) {
      if (parent->children > 0) {
        --parent->children;
      }
    }
    auto cur = current_.find(e.process.pid());
    if (cur != current_.end() && cur->second == it->first) {
      current_.erase(cur);
    }
  }
  entries_.erase(it);
}

void ProcessCache::addExisting(Process&& process) { insert(std::move(process)); }

void ProcessCache::finishSnapshot() {
  for (auto& [id, e] : entries_) {
    e.children = 0;
  }
  for (auto& [id, e] : entries_) {
    if (e.ended) {
      continue;
    }
    if (Entry* parent = lookup(e.process.parent_exec_id()); parent && parent != &e) {
      ++parent->children;
    }
  }
}

void ProcessCache::enrich(Event& event) {
  uint64_t now = event.ktime_ns();
  if (event.has_exec()) {
    auto* exec = event.mutable_exec();
    Process& proc = *exec->mutable_process();
    if (const Process* parent = parentOf(proc)) {
      *exec->mutable_parent() = *parent;
    }
    auto cur = current_.find(proc.pid());
    if (cur != current_.end() && cur->second != proc.exec_id()) {
      if (Entry* previous = lookup(cur->second)) {
        end(*previous, now);
      }
    }
    insert(proc);
  } else if (event.has_fork()) {
    auto* fork = event.mutable_fork();
    Process* child = fork->mutable_process();
    if (const Process* parent = parentOf(*child)) {
      copyImage(*parent, *child, false);
      *fork->mutable_parent() = *parent;
    }
    insert(*child);
  } else if (event.has_exit()) {
    auto* exit = event.mutable_exit();
    Process* proc = exit->mutable_process();
    Entry* entry = lookup(proc->exec_id());
    if (!entry) {
      auto cur = current_.find(proc->pid());
      entry = cur == current_.end() ? nullptr : lookup(cur->second);
    }
    if (entry) {
      copyImage(entry->process, *proc, true);
      proc->set_source(entry->process.source());
    } else {
      ++stats_.process_misses;
    }
    if (const Process* parent = parentOf(*proc)) {
      *exit->mutable_parent() = *parent;
    }
    if (entry) {
      end(*entry, now);
    }
  } else if (event.has_syscall()) {
    attachCaller(*event.mutable_syscall()->mutable_process(), *event.mutable_syscall()->mutable_parent());
  } else if (event.has_flow()) {
    if (!event.flow().owner_unknown()) {
      attachCaller(*event.mutable_flow()->mutable_process(), *event.mutable_flow()->mutable_parent());
    }
  } else if (event.has_dns()) {
    attachCaller(*event.mutable_dns()->mutable_process(), *event.mutable_dns()->mutable_parent());
  }
}

void ProcessCache::attachCaller(Process& proc, Process& parent) {
  Entry* entry = proc.exec_id().empty() ? nullptr : lookup(proc.exec_id());
  if (!entry) {
    auto cur = current_.find(proc.pid());
    entry = cur == current_.end() ? nullptr : lookup(cur->second);
  }
  if (entry) {
    // The image from the cache; thread, ids, comm and cgroup as they were at
    // the call (copyCallerImage sets every field the decoder did).
    const uint32_t tid = proc.tid(), uid = proc.creds().uid(), gid = proc.creds().gid();
    const uint64_t cgroup_id = proc.cgroup_id();
    std::string comm = std::move(*proc.mutable_comm());
    copyCallerImage(entry->process, proc);
    proc.set_tid(tid);
    proc.mutable_creds()->set_uid(uid);
    proc.mutable_creds()->set_gid(gid);
    proc.set_comm(std::move(comm));
    proc.set_cgroup_id(cgroup_id);
  } else {
    ++stats_.process_misses;
  }
  if (const Process* p = parentOf(proc)) {
    copyCallerImage(*p, parent);
  }
}

void ProcessCache::sweep(uint64_t now_ns) {
  // Removing an image can free its parent; repeat until nothing changes.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = entries_.begin(); it != entries_.end();) {
      const Entry& e = it->second;
      if (e.ended && e.children == 0 && now_ns >= e.ended_ns + options_.ended_ttl_ns) {
        auto next = std::next(it);
        remove(it);
        ++stats_.removed;
        it = next;
        changed = true;
      } else {
        ++it;
      }
    }
  }
}

void ProcessCache::enforceCap() {
  if (entries_.size() <= options_.max_entries) {
    return;
  }
  // Evict ended images first, oldest first; then the oldest live ones.
  std::vector<std::pair<uint64_t, std::string>> ended, live;
  for (auto& [id, e] : entries_) {
    (e.ended ? ended : live).emplace_back(e.order, id);
  }
  std::sort(ended.begin(), ended.end());
  std::sort(live.begin(), live.end());
  size_t excess = entries_.size() - options_.max_entries;
  // Evict a tenth extra so the O(n) pass is not repeated on every insert.
  size_t target = std::min(entries_.size(), excess + options_.max_entries / 10);
  for (auto* list : {&ended, &live}) {
    for (auto& [order, id] : *list) {
      if (target == 0) {
        return;
      }
      auto it = entries_.find(id);
      if (it != entries_.end()) {
        remove(it);
        ++stats_.evicted;
        --target;
      }
    }
  }
}

ProcessCacheStats ProcessCache::stats() const {
  ProcessCacheStats s = stats_;
  s.entries = entries_.size();
  return s;
}

} // namespace vigil
