/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Process lifecycle records: kernel (bpf/process.bpf.c) to user space
 * (collectors/process/). See docs/process.md for the meaning of each field.
 *
 * exec_id: a process image is identified on the node by (pid, exec_id) where
 * exec_id is a CLOCK_BOOTTIME nanosecond value:
 *   - for an exec the kernel side saw: the time of the exec, nudged by 1 ns if
 *     it happens to be a multiple of VIGIL_START_TICK_NS;
 *   - for any other image (a child after fork, a process found at start):
 *     the process start time rounded down to VIGIL_START_TICK_NS, which is the
 *     resolution of /proc/<pid>/stat starttime, so the BPF task iterator, the
 *     /proc fallback and the fork hook all derive the same value.
 */
#pragma once

#include "common.h"

#define VIGIL_ARGV_CAP 32768 /* hard bound on argv bytes per exec (power of two) */
#define VIGIL_ARGV_DEFAULT 4096 /* default argv bound */
#define VIGIL_PATH_CAP 4096 /* bytes of one path in a record */
#define VIGIL_PATH_DEPTH 64 /* dentry walk bound (components) */
#define VIGIL_NAME_CAP 256 /* one path component, NUL included */
#define VIGIL_COMM_LEN 16 /* TASK_COMM_LEN */
#define VIGIL_START_TICK_NS 10000000ULL /* 1/USER_HZ: clock_t resolution of /proc starttime */

/* The data area after a vigil_exec_event. Sized with slack so the verifier
 * can prove every bounded write stays inside it. */
#define VIGIL_EXEC_DATA_CAP 65536

/* vigil_task_info.flags */
#define VIGIL_TASK_F_KTHREAD (1U << 0) /* a kernel thread (no user image) */
#define VIGIL_TASK_F_PARENT_ID_FROM_START (1U << 1) /* parent_exec_id derived from the parent's start time */
#define VIGIL_TASK_F_ID_FROM_START (1U << 2) /* exec_id derived from start time (no exec seen) */
#define VIGIL_TASK_F_CHILD_GUESSED (1U << 3) /* fork without the child's task_struct: child fields copied from the parent */

/* Identity, credentials and namespaces of one task at capture time. */
struct vigil_task_info {
	__u32 pid; /* thread-group id (what user space calls the pid) */
	__u32 tid; /* the thread that triggered the record */
	__u32 ppid; /* real_parent's thread-group id */
	__u32 flags; /* VIGIL_TASK_F_* */
	__u64 start_ns; /* group leader's start_boottime, CLOCK_BOOTTIME ns */
	__u64 exec_id; /* see "exec_id" above */
	__u64 parent_exec_id; /* the parent's exec_id at capture time */
	__u64 cgroup_id; /* cgroup v2 (default hierarchy) id */
	__u64 cap_effective; /* effective capability mask */
	__u64 cap_permitted; /* permitted capability mask */
	__u32 uid; /* real uid */
	__u32 gid; /* real gid */
	__u32 euid; /* effective uid */
	__u32 egid; /* effective gid */
	__u32 auid; /* login uid, 4294967295 when unset */
	__u32 pidns; /* pid namespace inode */
	__u32 mntns; /* mount namespace inode */
	__u32 netns; /* network namespace inode */
	char comm[VIGIL_COMM_LEN]; /* task comm, NUL padded */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_task_info) == 112, "vigil_task_info size");
VIGIL_STATIC_ASSERT(__builtin_offsetof(struct vigil_task_info, exec_id) == 24, "exec_id offset");
VIGIL_STATIC_ASSERT(__builtin_offsetof(struct vigil_task_info, uid) == 64, "uid offset");
VIGIL_STATIC_ASSERT(__builtin_offsetof(struct vigil_task_info, comm) == 96, "comm offset");

/* vigil_exec_event.flags */
#define VIGIL_EXEC_F_ARGV_TRUNC (1U << 0) /* argv longer than the bound: argv holds its exact prefix */
#define VIGIL_EXEC_F_EXE_TRUNC (1U << 1) /* exe path deeper or longer than the bound */
#define VIGIL_EXEC_F_CWD_TRUNC (1U << 2) /* cwd deeper or longer than the bound */
#define VIGIL_EXEC_F_ARGV_FAIL (1U << 3) /* argv could not be read */
#define VIGIL_EXEC_F_FILENAME_TRUNC (1U << 4) /* filename longer than VIGIL_PATH_CAP */
#define VIGIL_EXEC_F_NO_EXE (1U << 5) /* the task had no executable file (kernel thread) */

#define VIGIL_EXEC_VERSION 1

/*
 * VIGIL_EV_EXEC and VIGIL_EV_SNAPSHOT. Followed by data, in this order:
 *   argv     argv_len bytes: NUL-separated args as in /proc/<pid>/cmdline
 *            (empty in snapshots: user space reads /proc/<pid>/cmdline)
 *   exe      exe_len bytes: path components LEAF FIRST, each NUL-terminated
 *   cwd      cwd_len bytes: same encoding as exe
 *   filename filename_len bytes: the path given to execve, NUL-terminated
 */
struct vigil_exec_event {
	struct vigil_event_header hdr;
	struct vigil_task_info task;
	__u64 exe_ino; /* inode number of the executable */
	__u32 exe_dev; /* kernel dev_t (MAJOR<<20|MINOR) of the executable's filesystem */
	__u32 flags; /* VIGIL_EXEC_F_* */
	__u32 argv_len; /* bytes of argv */
	__u32 exe_len; /* bytes of exe */
	__u32 cwd_len; /* bytes of cwd */
	__u32 filename_len; /* bytes of filename */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_exec_event) == 168, "vigil_exec_event size");
VIGIL_STATIC_ASSERT(__builtin_offsetof(struct vigil_exec_event, task) == 24, "task offset");
VIGIL_STATIC_ASSERT(__builtin_offsetof(struct vigil_exec_event, argv_len) == 152, "argv_len offset");

#define VIGIL_FORK_VERSION 1

/* VIGIL_EV_FORK: a new process (threads are not reported). */
struct vigil_fork_event {
	struct vigil_event_header hdr;
	struct vigil_task_info child; /* the new process; ppid/parent_exec_id name its parent */
	__u32 parent_tid; /* the thread that called fork/clone */
	__u32 pad; /* always 0 */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_fork_event) == 144, "vigil_fork_event size");

#define VIGIL_EXIT_VERSION 1

/* VIGIL_EV_EXIT: the last thread of a process exited. */
struct vigil_exit_event {
	struct vigil_event_header hdr;
	struct vigil_task_info task; /* tid is the last thread to exit */
	__u32 exit_code; /* raw wait status: (status << 8) | 0x80 if core dumped | signal */
	__u32 pad; /* always 0 */
};

VIGIL_STATIC_ASSERT(sizeof(struct vigil_exit_event) == 144, "vigil_exit_event size");
