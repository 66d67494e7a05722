/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Per-CPU scratch for records too big for the 512-byte stack. Depends on
 * common.bpf.h only.
 *
 * A per-CPU map value may not exceed 32 KiB, so this is a plain array with
 * one slot per possible CPU (user space sets max_entries before load),
 * indexed by the current CPU. Programs using it do not sleep and cannot be
 * preempted by another user of the same slot on the same CPU.
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
	__uint(max_entries, 1); /* set to the number of possible CPUs before load */
	__type(key, __u32);
	__type(value, struct vigil_exec_scratch);
} vigil_exec_heap SEC(".maps");

/* This CPU's slot; counts a miss (the record is lost). */
static __always_inline struct vigil_exec_scratch *vigil_exec_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct vigil_exec_scratch *s = bpf_map_lookup_elem(&vigil_exec_heap, &cpu);

	if (!s)
		vigil_count(VIGIL_CNT_SCRATCH_MISS);
	return s;
}
