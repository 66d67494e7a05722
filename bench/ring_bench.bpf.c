/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Ring buffer transport benchmark (bench/ring_bench.cc, results in
 * bench/results/ring.md): one shared BPF ring buffer against one ring per
 * CPU (an array of ring buffers indexed by the current CPU).
 *
 * Each getppid of the benchmark's own process emits records_per_call records
 * of record_size bytes, copied from a per-CPU scratch record with
 * bpf_ringbuf_output and the agent's wakeup policy (bpf/lib/common.bpf.h:
 * no wakeup until the unread data crosses wakeup_bytes). Every record
 * carries a per-CPU sequence number that counts failed reservations too, so
 * the consumer can check that what it misses is exactly what was dropped.
 *
 * A second program, bench_floor, does nothing on a syscall nobody calls: with
 * it attached, every syscall of every task takes the tracepoint slow path,
 * which is the floor bench/all.sh compares untraced syscalls against.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "shared/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Load-time settings, set by the loader between open and load. */
const volatile __u32 target_tgid = 0; /* only this process's calls emit */
const volatile __u32 per_cpu_rings = 0; /* 0: shared_ring; 1: per_cpu_ring[current CPU] */
const volatile __u32 records_per_call = 1; /* K: records per getppid (bpf_loop when > 1) */
const volatile __u32 record_size = 64; /* S: bytes per record, 32..RING_BENCH_MAX_RECORD */
const volatile __u64 wakeup_bytes = 0; /* as vigil_wakeup_bytes; 0: the kernel's default wakeup */
const volatile __u32 wakeup_every = 0; /* 0: wake when unread data crosses wakeup_bytes (Vigil's rule);
					  1: when it crosses any multiple of wakeup_bytes */

#define RING_BENCH_MAX_RECORD 1024

/*
 * One record: Vigil's common header (kind 0: not a Vigil kind) and the
 * per-CPU sequence number, then padding up to record_size. ring_bench.cc
 * declares the same layout and checks it with the same assertions.
 */
struct ring_bench_record {
	struct vigil_event_header hdr; /* size = record_size, ktime_ns, cpu */
	__u64 seq; /* per-CPU sequence number: the CPU's produced counter before this record */
};

_Static_assert(sizeof(struct ring_bench_record) == 32, "ring_bench_record size");
_Static_assert(__builtin_offsetof(struct ring_bench_record, seq) == 24, "ring_bench_record seq offset");

/* Per-CPU totals, read by the loader at the end. */
struct ring_bench_stats {
	__u64 produced; /* records attempted (the next sequence number) */
	__u64 dropped; /* bpf_ringbuf_output failures: ring full */
	__u64 no_ring; /* per-CPU mode: no ring for this CPU (loader bug if not 0) */
	__u64 no_scratch; /* scratch lookup failed (never expected) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ring_bench_stats);
} bench_stats SEC(".maps");

/* The record is built here, never on the stack (up to 1 KiB). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[RING_BENCH_MAX_RECORD]);
} bench_scratch SEC(".maps");

/* Shared mode: one ring for every CPU, as Vigil's vigil_events. Sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} shared_ring SEC(".maps");

/*
 * Per-CPU mode: slot i holds CPU i's ring, created and inserted by the
 * loader. This inner definition is only the template the outer map is
 * created with (ring buffers of any size match it).
 */
struct ring_bench_inner {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ring_bench_inner);
} per_cpu_ring SEC(".maps");

/*
 * vigil_wakeup_flags, for any ring. The query and the output are not one
 * atomic step: two CPUs writing one ring can both see the unread data just
 * below the threshold and both pass it without a wakeup, and then nothing
 * wakes the consumer before its poll timeout. wakeup_every gives every
 * further multiple of wakeup_bytes the same chance to wake it.
 */
static __always_inline __u64 wakeup_flags(void *ring, __u64 size)
{
	__u64 unread;

	if (!wakeup_bytes)
		return 0;
	unread = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	if (wakeup_every)
		return unread / wakeup_bytes != (unread + size) / wakeup_bytes ? BPF_RB_FORCE_WAKEUP :
										 BPF_RB_NO_WAKEUP;
	return (unread < wakeup_bytes && unread + size >= wakeup_bytes) ? BPF_RB_FORCE_WAKEUP :
									BPF_RB_NO_WAKEUP;
}

/* Emits one record; the ring is looked up per record, as a per-event hook would. */
static long emit_one(__u32 index, void *ctx)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct ring_bench_stats *stats = bpf_map_lookup_elem(&bench_stats, &zero);
	struct ring_bench_record *rec = bpf_map_lookup_elem(&bench_scratch, &zero);
	__u64 size = record_size;
	void *ring = &shared_ring;

	if (!stats)
		return 1;
	if (!rec) {
		stats->no_scratch++;
		return 1;
	}
	if (per_cpu_rings) {
		ring = bpf_map_lookup_elem(&per_cpu_ring, &cpu);
		if (!ring) {
			stats->no_ring++;
			return 1;
		}
	}
	if (size < sizeof(*rec) || size > RING_BENCH_MAX_RECORD)
		return 1;
	rec->hdr.kind = 0;
	rec->hdr.version = 1;
	rec->hdr.size = size;
	rec->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	rec->hdr.cpu = cpu;
	rec->hdr.pad = 0;
	rec->seq = stats->produced++; /* per-CPU value: no atomics needed */
	if (bpf_ringbuf_output(ring, rec, size, wakeup_flags(ring, size)) != 0)
		stats->dropped++;
	return 0;
}

/*
 * A syscall tracepoint, as Vigil's per-syscall hooks: getppid has no side
 * effects and costs little, so the generator's time goes to the transport.
 */
SEC("tracepoint/syscalls/sys_enter_getppid")
int bench_getppid(void *ctx)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	if (records_per_call == 1)
		emit_one(0, NULL);
	else
		bpf_loop(records_per_call, emit_one, NULL, 0);
	return 0;
}

/* The floor: attached to a syscall the benchmarks never make, and empty. */
SEC("tracepoint/syscalls/sys_enter_acct")
int bench_floor(void *ctx)
{
	return 0;
}
