/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * What any tracer pays on this kernel for a traced syscall, below Vigil's own
 * work (bench/hook_floor.cc, results in bench/results/syscall_overhead.md).
 * Each program sits on syscalls:sys_exit_getppid, where Vigil's traced
 * getppid records are made; the loader attaches one at a time:
 *   floor_empty  returns at once: the tracepoint and BPF invocation alone;
 *   floor_record reserves, fills and commits the smallest useful record (pid,
 *                boot time, cgroup, comm: a 64-byte record with the header),
 *                with Vigil's wakeup rule, to a ring user space drains.
 * Only the benchmark's own process emits.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid = 0;
const volatile __u64 wakeup_bytes = 128 << 10;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} floor_ring SEC(".maps");

struct floor_record {
	__u64 ktime_ns;
	__u64 pid_tgid;
	__u64 cgroup_id;
	char comm[16];
	__u64 pad[2];
};

SEC("tracepoint/syscalls/sys_exit_getppid")
int floor_empty(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_getppid")
int floor_record(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), unread;
	struct floor_record *r;

	if ((pid_tgid >> 32) != target_tgid)
		return 0;
	r = bpf_ringbuf_reserve(&floor_ring, sizeof(*r), 0);
	if (!r)
		return 0;
	r->ktime_ns = bpf_ktime_get_boot_ns();
	r->pid_tgid = pid_tgid;
	r->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	/* The unread data includes this record (and its 8-byte ring header)
	 * once reserved: wake when the record made it cross a multiple. */
	unread = bpf_ringbuf_query(&floor_ring, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(r, unread / wakeup_bytes != (unread - sizeof(*r) - 8) / wakeup_bytes ? BPF_RB_FORCE_WAKEUP :
												  BPF_RB_NO_WAKEUP);
	return 0;
}
