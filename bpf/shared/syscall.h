/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Syscall and file activity records: kernel (bpf/syscall.bpf.c) to user space
 * (collectors/syscall/). See docs/syscall.md.
 *
 * What to capture is data, not code: user space writes one vigil_sys_spec per
 * syscall number into the "vigil_sys_specs" array, saying how each of the six
 * arguments is read. The kernel side pairs enter and exit per thread, so one
 * record carries the arguments (user memory read at enter) and the return
 * value.
 */
#pragma once

#include "common.h"

#define VIGIL_SYS_NR_MAX 512 /* syscall numbers below this (x86_64 has < 470) */
#define VIGIL_SYS_ARGS 6
#define VIGIL_SYS_STR_CAP 4096 /* bytes of one string or path chunk, NUL included */
#define VIGIL_SYS_DATA_CAP 8192 /* bytes of chunks in one record (power of two) */
#define VIGIL_SYS_BUF_CAP 64 /* bytes of one fixed-size user buffer argument */
#define VIGIL_SYS_SOCKADDR_CAP 112 /* bytes of a sockaddr (sockaddr_un is 110) */
#define VIGIL_SYS_PREFIXES 16 /* watched path prefixes */
#define VIGIL_SYS_PREFIX_CAP 256 /* bytes of one prefix, NUL included */
#define VIGIL_SYS_CGROUPS 8 /* cgroups in the include list, and again in the exclude list */

/* vigil_sys_spec.mode */
enum vigil_sys_mode {
	VIGIL_SYS_OFF = 0, /* not watched */
	VIGIL_SYS_COUNT = 1, /* counted per (cgroup, syscall) only */
	VIGIL_SYS_TRACE = 2, /* counted and captured with arguments and return value */
};

/* vigil_sys_spec.cls: what the syscall is, for filtering. */
enum vigil_sys_class {
	VIGIL_SYS_CLASS_GENERIC = 0, /* always reported */
	VIGIL_SYS_CLASS_FILE = 1, /* reported only when a path argument is under a watched prefix */
	VIGIL_SYS_CLASS_OPEN = 2, /* FILE, and the return value is an fd whose path is recorded */
};

/* How one argument is captured. Every argument's register value is always in
 * vigil_sys_event.args; types other than INT add a data chunk. */
enum vigil_arg_type {
	VIGIL_ARG_NONE = 0, /* not meaningful */
	VIGIL_ARG_INT = 1, /* the register value only */
	VIGIL_ARG_STR = 2, /* NUL-terminated user string, read at enter */
	VIGIL_ARG_PATH = 3, /* user path read at enter, made absolute: aux = argument index of the
			       directory fd it is relative to, or VIGIL_ARG_AUX_CWD */
	VIGIL_ARG_BUF = 4, /* user buffer of aux bytes (<= VIGIL_SYS_BUF_CAP), read at enter */
	VIGIL_ARG_SOCKADDR = 5, /* user sockaddr read at enter; aux = index of the argument holding its length */
	VIGIL_ARG_SOCKADDR_OUT = 6, /* sockaddr the call fills in, read at exit; aux = index of the
				       argument pointing to its length (socklen_t *) */
};

#define VIGIL_ARG_AUX_CWD 0xff /* VIGIL_ARG_PATH relative to the working directory */

/* vigil_sys_spec.flags */
#define VIGIL_SYS_SPEC_FAIL_ONLY (1U << 0) /* report only failed calls (execve: success is the exec event) */

/* One per syscall number, written by user space (runtime, not rodata: the
 * dispatcher reads it on every syscall). */
struct vigil_sys_spec {
	__u8 mode; /* enum vigil_sys_mode */
	__u8 cls; /* enum vigil_sys_class */
	__u8 flags; /* VIGIL_SYS_SPEC_* */
	__u8 has_data; /* 1 when any argument adds a chunk (read at enter, kept in the large pending map);
			  0: the call is counted and recorded at exit only, from the saved registers */
	__u8 type[VIGIL_SYS_ARGS]; /* enum vigil_arg_type per argument */
	__u8 aux[VIGIL_SYS_ARGS]; /* per type, see enum vigil_arg_type */
	__u8 open_flags_arg; /* CLASS_OPEN: index of the O_* flags argument, VIGIL_OPEN_FLAGS_HOW, or
				VIGIL_OPEN_FLAGS_NONE */
	__u8 access; /* VIGIL_ACCESS_* the call always implies (unlink: WRITE), ORed with the flags' */
	__u16 pad; /* always 0 */
};

#define VIGIL_OPEN_FLAGS_HOW 0xfe /* openat2: the flags are the first u64 of the BUF argument 2 */
#define VIGIL_OPEN_FLAGS_NONE 0xff

VIGIL_STATIC_ASSERT(sizeof(struct vigil_sys_spec) == 20, "vigil_sys_spec size");

/* vigil_sys_event.flags */
#define VIGIL_SYS_F_ID_FROM_START (1U << 0) /* exec_id derived from the process start time */
#define VIGIL_SYS_F_DATA_TRUNC (1U << 1) /* chunks did not fit VIGIL_SYS_DATA_CAP; later ones are missing */
#define VIGIL_SYS_F_REREAD (1U << 2) /* arguments were read at exit (an open selected by its resolved path) */
#define VIGIL_SYS_F_EXIT_ONLY (1U << 3) /* recorded whole at exit (no memory arguments): no duration.
					    Not in vigil_sys_counts: the reader counts these records
					    itself (one map update less per traced call) */
#define VIGIL_SYS_F_FAULT_SHIFT 8 /* bit 8 + i: argument i was unreadable at enter (kernel-internal) */

/* vigil_sys_event.access: what a file syscall does to the file. */
#define VIGIL_ACCESS_READ (1U << 0)
#define VIGIL_ACCESS_WRITE (1U << 1) /* opened for writing, created, truncated, or metadata changed */

#define VIGIL_SYSCALL_VERSION 1

/*
 * VIGIL_EV_SYSCALL. hdr.ktime_ns is the time of the exit. Followed by
 * data_len bytes of chunks, each a vigil_sys_chunk and then its len bytes.
 */
struct vigil_sys_event {
	struct vigil_event_header hdr;
	__u32 pid; /* thread-group id */
	__u32 tid; /* thread */
	__u64 exec_id; /* the process image's exec_id (bpf/shared/process.h) */
	__u64 cgroup_id; /* cgroup v2 id */
	__u32 uid; /* real uid */
	__u32 gid; /* real gid */
	__u64 enter_ns; /* CLOCK_BOOTTIME ns at enter */
	__s64 ret; /* return value; -errno on failure */
	__u64 args[VIGIL_SYS_ARGS]; /* argument registers at enter */
	__u32 nr; /* syscall number (x86_64) */
	__u16 cls; /* enum vigil_sys_class */
	__u16 flags; /* VIGIL_SYS_F_* */
	__u32 data_len; /* bytes of chunks after this struct */
	__u16 access; /* VIGIL_ACCESS_* for file syscalls, else 0 */
	__u16 prefix; /* watched prefix that matched: index + 1; 0 none or no filtering */
	char comm[16]; /* task comm */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_sys_event) == 152, "vigil_sys_event size");
VIGIL_STATIC_ASSERT(__builtin_offsetof(struct vigil_sys_event, args) == 72, "args offset");
VIGIL_STATIC_ASSERT(__builtin_offsetof(struct vigil_sys_event, nr) == 120, "nr offset");

/* vigil_sys_chunk.arg beyond the six arguments */
#define VIGIL_CHUNK_RESOLVED 6 /* path of the file the returned fd refers to (CLASS_OPEN, success) */

/* vigil_sys_chunk.flags */
#define VIGIL_CHUNK_F_TRUNC (1U << 0) /* longer than the chunk bound: an exact prefix */
#define VIGIL_CHUNK_F_FAULT (1U << 1) /* user memory could not be read: no bytes */
#define VIGIL_CHUNK_F_RELATIVE (1U << 2) /* PATH given relative: the first base_len bytes are the
					     directory it was resolved against, the rest as given */
#define VIGIL_CHUNK_F_AT_EXIT (1U << 3) /* read at exit (unreadable at enter, or an OUT argument) */
#define VIGIL_CHUNK_F_BASE_TRUNC (1U << 4) /* the directory walk was cut (depth or size) */

/*
 * A piece of argument data. Strings and paths include their terminating
 * NUL; paths are absolute, root first ("/etc/passwd"), seen from the
 * task's mount namespace root (a relative path stays relative only when its
 * directory could not be found, e.g. a bad dirfd).
 *
 * A NULL pointer argument has no chunk. An argument unreadable at enter has
 * a FAULT chunk (no bytes) and, when it could be read at exit, a second
 * chunk for the same argument flagged AT_EXIT; the later one wins. The
 * RESOLVED chunk has type VIGIL_ARG_PATH.
 */
struct vigil_sys_chunk {
	__u8 arg; /* argument index 0-5, or VIGIL_CHUNK_* */
	__u8 type; /* enum vigil_arg_type */
	__u16 flags; /* VIGIL_CHUNK_F_* */
	__u16 len; /* bytes that follow */
	__u16 base_len; /* VIGIL_CHUNK_F_RELATIVE: bytes of the base directory, '/' included */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_sys_chunk) == 8, "vigil_sys_chunk size");

/* Key of the per-(cgroup, syscall) counters ("vigil_sys_counts", per-CPU hash, u64 values). */
struct vigil_sys_count_key {
	__u64 cgroup_id;
	__u32 nr;
	__u32 pad; /* always 0 */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_sys_count_key) == 16, "vigil_sys_count_key size");
