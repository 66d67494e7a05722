/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Load shedding: an optional per-cgroup token bucket on a kind of record,
 * decided in the kernel. What it drops is counted exactly in the cgroup's
 * state and reported, instead of lost in silence, as a VIGIL_EV_SUPPRESSED
 * summary: by the kernel before the cgroup's next record that may go, or by
 * the agent once the cgroup has been quiet (it takes idle states with
 * lookup-and-delete, so each drop is reported once).
 *
 * Each user keeps its own LRU hash (key: cgroup id, value: vigil_rate_state)
 * and its own cost/burst settings, and passes them in.
 */
#pragma once

#include "lib/common.bpf.h"

/* Sends what the limit dropped for r's cgroup, if anything. A summary that
 * does not fit the ring is put back, and the ring-full counter counts it. */
static __always_inline void vigil_send_suppressed(struct vigil_rate_state *r, __u64 cgroup_id, __u32 kind,
						  __u32 full_counter)
{
	struct vigil_suppressed_event ev = {};
	__u64 n = __sync_lock_test_and_set(&r->suppressed, 0);

	if (!n)
		return;
	ev.cgroup_id = cgroup_id;
	ev.count = n;
	ev.first_ns = r->first_suppressed_ns;
	ev.kind = kind;
	vigil_fill_header(&ev.hdr, VIGIL_EV_SUPPRESSED, VIGIL_SUPPRESSED_VERSION, sizeof(ev));
	if (bpf_ringbuf_output(&vigil_events, &ev, sizeof(ev), vigil_wakeup_flags(sizeof(ev))) != 0) {
		__sync_fetch_and_add(&r->suppressed, n);
		vigil_count(full_counter);
	}
}

/*
 * Whether cgroup_id may send one more record of kind. The bucket is kept as
 * sending time earned: a record costs cost_ns, credit tops up with time up
 * to burst_ns. cost_ns 0: no limit. Races between CPUs can let a record more
 * or less through; the count of what was dropped is exact (atomic).
 */
static __always_inline int vigil_rate_allows(void *states, __u64 cgroup_id, __u64 cost_ns, __u64 burst_ns,
					     __u32 kind, __u32 full_counter)
{
	struct vigil_rate_state *r, init = {};
	__u64 now, credit;

	if (!cost_ns)
		return 1;
	now = bpf_ktime_get_boot_ns();
	r = bpf_map_lookup_elem(states, &cgroup_id);
	if (!r) {
		init.credit_ns = burst_ns - cost_ns;
		init.last_ns = now;
		bpf_map_update_elem(states, &cgroup_id, &init, BPF_NOEXIST);
		return 1;
	}
	credit = r->credit_ns + (now - r->last_ns);
	if (credit > burst_ns)
		credit = burst_ns;
	r->last_ns = now;
	if (credit < cost_ns) {
		r->credit_ns = credit;
		if (__sync_fetch_and_add(&r->suppressed, 1) == 0)
			r->first_suppressed_ns = now;
		vigil_count(VIGIL_CNT_RATE_LIMITED);
		return 0;
	}
	r->credit_ns = credit - cost_ns;
	if (r->suppressed)
		vigil_send_suppressed(r, cgroup_id, kind, full_counter);
	return 1;
}
