/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Base layer of the BPF helpers: includes, the per-object counter map and
 * the ring buffer every capture domain writes to. Includes nothing above it.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "shared/common.h"

/* Records to user space. Size is set by user space before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} vigil_events SEC(".maps");

/* enum vigil_counter slots, summed over CPUs by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} vigil_counters SEC(".maps");

static __always_inline void vigil_count(__u32 counter)
{
	__u64 *slot = bpf_map_lookup_elem(&vigil_counters, &counter);

	if (slot)
		*slot += 1; /* per-CPU slot: no atomics needed */
}

/* Header of a record taken at ktime_ns (CLOCK_BOOTTIME). */
static __always_inline void vigil_fill_header_at(struct vigil_event_header *hdr, __u16 kind,
						 __u16 version, __u32 size, __u64 ktime_ns)
{
	hdr->kind = kind;
	hdr->version = version;
	hdr->size = size;
	hdr->ktime_ns = ktime_ns;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->pad = 0;
}

/* Header of a record taken now. A clock read costs ~55 ns in a VM
 * (kvm-clock): a hook that already has the time passes it to _at. */
static __always_inline void vigil_fill_header(struct vigil_event_header *hdr, __u16 kind,
					      __u16 version, __u32 size)
{
	vigil_fill_header_at(hdr, kind, version, size, bpf_ktime_get_boot_ns());
}

/*
 * Consumer wakeup policy, set by user space before load. Waking the consumer
 * is an irq_work (a self-IPI): in a VM it costs tens of microseconds, several
 * times the rest of a hook (bench/results/exec_storm.md). With a threshold,
 * a record wakes user space only when it makes the unread data cross a
 * multiple of it; the consumer's poll timeout bounds the latency of quieter
 * periods.
 * 0 keeps the kernel's default (wake when the ring was empty).
 */
const volatile __u64 vigil_wakeup_bytes = 0;

/* Wakeup flags for a record of size bytes about to be committed. */
static __always_inline __u64 vigil_wakeup_flags(__u64 size)
{
	__u64 unread;

	if (!vigil_wakeup_bytes)
		return 0;
	/* Wake at every multiple of the threshold the unread data crosses, not
	 * only the first: two CPUs that read the unread size before either
	 * commits can cross it together unseen, and a rule that fired once
	 * would then leave the consumer to its poll timeout while the ring
	 * fills (bench/results/ring.md). */
	unread = bpf_ringbuf_query(&vigil_events, BPF_RB_AVAIL_DATA);
	return unread / vigil_wakeup_bytes != (unread + size) / vigil_wakeup_bytes ? BPF_RB_FORCE_WAKEUP :
										     BPF_RB_NO_WAKEUP;
}

/* Copies a finished record into the ring buffer; counts counter when the ring is full. */
static __always_inline void vigil_submit_or_count(void *record, __u64 size, __u32 counter)
{
	if (bpf_ringbuf_output(&vigil_events, record, size, vigil_wakeup_flags(size)) != 0)
		vigil_count(counter);
}

/* Copies a finished record into the ring buffer; counts it per kind when the ring is full. */
static __always_inline void vigil_submit(void *record, __u64 size, __u16 kind)
{
	vigil_submit_or_count(record, size, VIGIL_RB_FULL_COUNTER(kind));
}
