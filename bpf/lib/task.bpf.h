/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Reads identity, credentials and namespaces out of a task_struct, and keeps
 * the pid -> exec_id map that gives every process image its id.
 * Depends on common.bpf.h only.
 */
#pragma once

#include "common.bpf.h"
#include "shared/process.h"

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */

/* pid (tgid) -> exec_id of its current image (see shared/process.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} vigil_procs SEC(".maps");

/* exec_id for an image whose exec was not seen: start time at /proc resolution. */
static __always_inline __u64 vigil_id_from_start(__u64 start_ns)
{
	return start_ns - (start_ns % VIGIL_START_TICK_NS);
}

/* exec_id for an exec seen now: never collides with a start-derived id. */
static __always_inline __u64 vigil_id_from_exec(__u64 now_ns)
{
	return (now_ns % VIGIL_START_TICK_NS) == 0 ? now_ns + 1 : now_ns;
}

static __always_inline __u64 vigil_leader_start(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime);
}

/*
 * The exec_id of task's process (thread-group id tgid): from the map, else
 * derived from its start time (sets *from_start). Derivation is right for
 * processes older than the agent; for others a map miss means LRU eviction,
 * which is counted. The current task's tgid comes with
 * bpf_get_current_pid_tgid(), without a read of the task.
 */
static __always_inline __u64 vigil_exec_id_of_tgid(struct task_struct *task, __u32 tgid, __u32 *from_start)
{
	__u64 *id = bpf_map_lookup_elem(&vigil_procs, &tgid);

	if (id) {
		*from_start = 0;
		return *id;
	}
	*from_start = 1;
	return vigil_id_from_start(vigil_leader_start(task));
}

/* The same for any task (its tgid read from it). */
static __always_inline __u64 vigil_exec_id_of(struct task_struct *task, __u32 *from_start)
{
	return vigil_exec_id_of_tgid(task, BPF_CORE_READ(task, tgid), from_start);
}

static __always_inline void vigil_set_exec_id(__u32 tgid, __u64 id, __u64 flags)
{
	if (bpf_map_update_elem(&vigil_procs, &tgid, &id, flags) != 0 && flags != BPF_NOEXIST)
		vigil_count(VIGIL_CNT_PROC_MAP_UPDATE_FAIL);
}

static __always_inline __u32 vigil_pidns_inum(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);

	return BPF_CORE_READ(pid, numbers[level].ns, ns.inum);
}

/* cgroup v2 id of a task's default hierarchy, as bpf_get_current_cgroup_id()
 * reports it for current, but readable for any task. */
static __always_inline __u64 vigil_cgroup_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
}

/*
 * Fills identity, credentials and namespaces from task. exec_id and
 * parent_exec_id are the caller's: they depend on which hook fired.
 */
static __always_inline void vigil_fill_task(struct vigil_task_info *info, struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);
	struct nsproxy *ns = BPF_CORE_READ(task, nsproxy);

	info->pid = BPF_CORE_READ(task, tgid);
	info->tid = BPF_CORE_READ(task, pid);
	info->ppid = BPF_CORE_READ(task, real_parent, tgid);
	info->flags = 0;
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		info->flags |= VIGIL_TASK_F_KTHREAD;
	info->start_ns = vigil_leader_start(task);
	info->cgroup_id = vigil_cgroup_id(task);
	/* kernel_cap_t is { u64 val; } since 6.3 and was { u32 cap[2]; } before;
	 * both lay out as one little-endian u64, so read 8 bytes either way. */
	info->cap_effective = 0;
	info->cap_permitted = 0;
	bpf_core_read(&info->cap_effective, sizeof(info->cap_effective), &cred->cap_effective);
	bpf_core_read(&info->cap_permitted, sizeof(info->cap_permitted), &cred->cap_permitted);
	info->uid = BPF_CORE_READ(cred, uid.val);
	info->gid = BPF_CORE_READ(cred, gid.val);
	info->euid = BPF_CORE_READ(cred, euid.val);
	info->egid = BPF_CORE_READ(cred, egid.val);
	if (bpf_core_field_exists(task->loginuid))
		info->auid = BPF_CORE_READ(task, loginuid.val);
	else
		info->auid = (__u32)-1; /* kernel built without CONFIG_AUDIT */
	info->pidns = vigil_pidns_inum(task);
	info->mntns = ns ? BPF_CORE_READ(ns, mnt_ns, ns.inum) : 0;
	info->netns = ns ? BPF_CORE_READ(ns, net_ns, ns.inum) : 0;
	BPF_CORE_READ_STR_INTO(&info->comm, task, comm);
}
