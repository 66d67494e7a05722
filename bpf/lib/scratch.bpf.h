/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Per-CPU scratch for records too big for the 512-byte stack. Depends on
 * common.bpf.h only.
 *
 * A per-CPU map value may not exceed 32 KiB, so this is a plain array with
 * two slots per possible CPU (user space sets max_entries and vigil_nr_cpus
 * before load). Tracepoint programs run with preemption disabled, so a CPU's
 * hook slot has one user at a time. The task iterator runs preemptible (only
 * migration is disabled): it gets its own slots, or an exec on its CPU could
 * overwrite a snapshot record half-built.
 */
#pragma once

#include "common.bpf.h"
#include "shared/process.h"

/* Any offset masked with this lands inside data with VIGIL_PATH_CAP bytes
 * of room after it, which is how writes at computed offsets pass the
 * verifier. Real offsets stay far below VIGIL_EXEC_DATA_CAP, so the mask
 * never changes them. */
#define VIGIL_DATA_MASK (VIGIL_EXEC_DATA_CAP - 1)

struct vigil_exec_scratch {
	struct vigil_exec_event ev;
	__u8 data[VIGIL_EXEC_DATA_CAP + VIGIL_PATH_CAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to 2 x possible CPUs before load */
	__type(key, __u32);
	__type(value, struct vigil_exec_scratch);
} vigil_exec_heap SEC(".maps");

const volatile __u32 vigil_nr_cpus = 1; /* possible CPUs */

enum vigil_scratch_user {
	VIGIL_SCRATCH_HOOK = 0, /* tracepoint programs */
	VIGIL_SCRATCH_ITER = 1, /* the task iterator */
};

/* This CPU's slot for user; counts a miss (the record is lost). */
static __always_inline struct vigil_exec_scratch *vigil_exec_scratch(__u32 user)
{
	__u32 slot = bpf_get_smp_processor_id() + (user == VIGIL_SCRATCH_ITER ? vigil_nr_cpus : 0);
	struct vigil_exec_scratch *s = bpf_map_lookup_elem(&vigil_exec_heap, &slot);

	if (!s)
		vigil_count(VIGIL_CNT_SCRATCH_MISS);
	return s;
}
