/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Kernel/user contract shared by every capture domain.
 *
 * This directory is the only part of bpf/ that C++ includes. Everything here
 * uses fixed-width types and fixed arrays, explicit padding, and pins its
 * layout with _Static_assert so clang-bpf and g++ check the same thing.
 */
#pragma once

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Layout checks that both clang-bpf (C) and g++ (C++) evaluate. */
#ifdef __cplusplus
#define VIGIL_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define VIGIL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Every record in a Vigil ring buffer starts with this header. */
enum vigil_event_kind {
	VIGIL_EV_EXEC = 1, /* a process image started (sched_process_exec) */
	VIGIL_EV_FORK = 2, /* a new process (not a thread) was created */
	VIGIL_EV_EXIT = 3, /* the last thread of a process exited */
	VIGIL_EV_SNAPSHOT = 4, /* a process that existed when the agent started (task iterator) */
	VIGIL_EV_SYSCALL = 5, /* a watched syscall returned (bpf/shared/syscall.h) */
	VIGIL_EV_NET = 6, /* a network flow changed (bpf/shared/network.h) */
	VIGIL_EV_DNS = 7, /* a DNS message (bpf/shared/network.h) */
	VIGIL_EV_SUPPRESSED = 8, /* events a rate limit dropped on purpose, counted (below) */
	VIGIL_EV_KIND_MAX = 9,
};

struct vigil_event_header {
	__u16 kind; /* enum vigil_event_kind */
	__u16 version; /* layout version of this kind; bumped on incompatible change */
	__u32 size; /* bytes of the whole record, header included */
	__u64 ktime_ns; /* CLOCK_BOOTTIME ns when the kernel captured it */
	__u32 cpu; /* CPU that captured it */
	__u32 pad; /* explicit padding, always 0 */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_event_header) == 24, "vigil_event_header size");
VIGIL_STATIC_ASSERT(__builtin_offsetof(struct vigil_event_header, ktime_ns) == 8, "ktime_ns offset");

/*
 * Kernel-side counters, one slot each in a per-CPU array map named
 * "vigil_counters" in every object. User space sums the CPUs and exports
 * them; nothing the kernel side drops goes uncounted.
 */
enum vigil_counter {
	VIGIL_CNT_RB_FULL_EXEC = 0, /* exec record lost: ring buffer full */
	VIGIL_CNT_RB_FULL_FORK = 1, /* fork record lost: ring buffer full */
	VIGIL_CNT_RB_FULL_EXIT = 2, /* exit record lost: ring buffer full */
	VIGIL_CNT_SCRATCH_MISS = 3, /* per-CPU scratch lookup failed: record lost */
	VIGIL_CNT_ARGV_READ_FAIL = 4, /* argv could not be read from the new image (record sent without it) */
	VIGIL_CNT_PROC_MAP_MISS = 5, /* parent missing from the process map (evicted or raced start): id derived from start time */
	VIGIL_CNT_PROC_MAP_UPDATE_FAIL = 6, /* process map update failed */
	VIGIL_CNT_ITER_WRITE_FAIL = 7, /* task iterator could not write a snapshot record */
	VIGIL_CNT_RB_FULL_SYSCALL = 8, /* syscall record lost: ring buffer full */
	VIGIL_CNT_RB_FULL_FILE = 9, /* file syscall record lost: ring buffer full */
	VIGIL_CNT_SYS_PENDING_FULL = 10, /* syscall record lost: no room to keep it from enter to exit */
	VIGIL_CNT_SYS_READ_AT_EXIT = 11, /* user argument unreadable at enter (not paged in), read at exit */
	VIGIL_CNT_SYS_READ_FAIL = 12, /* user argument unreadable at enter and exit (record sent without it) */
	VIGIL_CNT_SYS_COUNT_FULL = 13, /* (cgroup, syscall) counter map full: a call went uncounted */
	VIGIL_CNT_SYS_NO_ENTER = 14, /* exit without a kept enter (started before attach, or lost) */
	VIGIL_CNT_SYS_PATH_FILTERED = 15, /* file syscall outside the watched prefixes: not sent (by design) */
	VIGIL_CNT_SYS_CGROUP_FILTERED = 16, /* syscall in a cgroup filtered out: not sent (by design) */
	VIGIL_CNT_RB_FULL_NET = 17, /* flow record lost: ring buffer full */
	VIGIL_CNT_RB_FULL_DNS = 18, /* DNS record lost: ring buffer full */
	VIGIL_CNT_NET_NO_OWNER = 19, /* TCP flow of a socket created before the agent: sent without an owner */
	VIGIL_CNT_NET_STORAGE_FAIL = 20, /* socket storage could not be created: the socket is not tracked */
	VIGIL_CNT_NET_ITER_WRITE_FAIL = 21, /* flow iterator could not write an interim record */
	VIGIL_CNT_RATE_LIMITED = 22, /* event dropped by a configured rate limit (reported in a summary) */
	VIGIL_CNT_MAX = 23,
};

/* Maps a record kind to its "ring buffer full" counter. */
#define VIGIL_RB_FULL_COUNTER(kind)                                      \
	((kind) == VIGIL_EV_EXEC ? VIGIL_CNT_RB_FULL_EXEC :              \
	 (kind) == VIGIL_EV_FORK ? VIGIL_CNT_RB_FULL_FORK :              \
	 (kind) == VIGIL_EV_EXIT ? VIGIL_CNT_RB_FULL_EXIT :              \
	 (kind) == VIGIL_EV_NET ? VIGIL_CNT_RB_FULL_NET :                \
	 (kind) == VIGIL_EV_DNS ? VIGIL_CNT_RB_FULL_DNS :                \
				   VIGIL_CNT_RB_FULL_SYSCALL)

#define VIGIL_SUPPRESSED_VERSION 1

/* VIGIL_EV_SUPPRESSED: how many events of one kind a per-cgroup rate limit
 * dropped, sent when the cgroup may send again (or read by user space once
 * the cgroup has gone quiet). */
struct vigil_suppressed_event {
	struct vigil_event_header hdr;
	__u64 cgroup_id; /* the cgroup v2 id the limit applies to */
	__u64 count; /* events dropped */
	__u64 first_ns; /* CLOCK_BOOTTIME ns of the first of them */
	__u32 kind; /* enum vigil_event_kind of the dropped events */
	__u32 pad; /* always 0 */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_suppressed_event) == 56, "vigil_suppressed_event size");

/* Per-cgroup rate limit state: a token bucket kept as sending time earned. */
struct vigil_rate_state {
	__u64 credit_ns; /* earned: an event costs 1e9 / rate ns, up to burst events' worth */
	__u64 last_ns; /* when credit was last topped up */
	__u64 suppressed; /* events dropped since the last summary */
	__u64 first_suppressed_ns; /* the first of those */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_rate_state) == 32, "vigil_rate_state size");
