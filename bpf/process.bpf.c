// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process lifecycle: exec, fork, exit, and a task iterator that snapshots the
 * processes already running when the agent starts.
 *
 * Each hook exists twice: as tp_btf (typed arguments, the child's task_struct
 * at fork, no tracefs needed; kernels >= 5.5) and as a classic tracepoint for
 * kernels or environments where tp_btf does not attach. User space enables one
 * family before load (collectors/process/process_bpf.cc) and logs which.
 */
#include "lib/common.bpf.h"
#include "lib/path.bpf.h"
#include "lib/scratch.bpf.h"
#include "lib/task.bpf.h"
#include "shared/process.h"

char LICENSE[] SEC("license") = "GPL";

/* Load-time settings, written by user space between open and load. */
const volatile __u32 argv_max = VIGIL_ARGV_DEFAULT; /* argv bytes per exec */
const volatile __u32 self_tgid = 0; /* the agent's own pid: never reported; 0 = report */

/*
 * Executable identity and paths of task: exe inode/device, then the exe and
 * cwd paths appended to the scratch data at pos. Returns the new end of data.
 */
static __always_inline __u32 fill_image(struct vigil_exec_event *ev, struct task_struct *task,
					__u32 scratch_user, __u32 pos)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	__u32 truncated = 0;

	ev->exe_len = 0;
	ev->cwd_len = 0;
	if (exe) {
		ev->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		ev->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
		ev->exe_len = vigil_path_walk(&exe->f_path, scratch_user, pos, &truncated);
		if (truncated)
			ev->flags |= VIGIL_EXEC_F_EXE_TRUNC;
		pos += ev->exe_len;
	} else {
		ev->exe_ino = 0;
		ev->exe_dev = 0;
		ev->flags |= VIGIL_EXEC_F_NO_EXE;
	}
	if (fs) {
		ev->cwd_len = vigil_path_walk(&fs->pwd, scratch_user, pos, &truncated);
		if (truncated)
			ev->flags |= VIGIL_EXEC_F_CWD_TRUNC;
		pos += ev->cwd_len;
	}
	return pos;
}

/* Sends ev with data[0, end) as one record of kind. */
static __always_inline void submit_exec_record(struct vigil_exec_scratch *s, __u32 end, __u16 kind,
					       __u64 now)
{
	__u64 size = sizeof(s->ev) + (__u64)end;

	if (size > sizeof(*s))
		size = sizeof(*s);
	vigil_fill_header(&s->ev.hdr, kind, VIGIL_EXEC_VERSION, size);
	s->ev.hdr.ktime_ns = now;
	vigil_submit(s, size, kind);
}

/* Parent's exec_id, flagging a derived one. */
static __always_inline __u64 parent_exec_id(struct vigil_task_info *info, struct task_struct *task)
{
	__u32 from_start = 0;
	__u64 id = vigil_exec_id_of(BPF_CORE_READ(task, real_parent), &from_start);

	if (from_start) {
		info->flags |= VIGIL_TASK_F_PARENT_ID_FROM_START;
		vigil_count(VIGIL_CNT_PROC_MAP_MISS);
	}
	return id;
}

/* exec: task is current, its new image is in place; filename is a kernel pointer. */
static __always_inline int on_exec(struct task_struct *task, const char *filename)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct vigil_exec_scratch *s;
	struct vigil_exec_event *ev;
	struct mm_struct *mm;
	__u64 now, arg_start, arg_end, len;
	__u32 bound, pos;
	long n;

	if (self_tgid && tgid == self_tgid)
		return 0;
	s = vigil_exec_scratch(VIGIL_SCRATCH_HOOK);
	if (!s)
		return 0;
	ev = &s->ev;
	now = bpf_ktime_get_boot_ns();

	vigil_fill_task(&ev->task, task);
	ev->task.exec_id = vigil_id_from_exec(now);
	ev->task.parent_exec_id = parent_exec_id(&ev->task, task);
	vigil_set_exec_id(tgid, ev->task.exec_id, BPF_ANY);
	ev->flags = 0;

	/* argv: read from the new image, bounded; the prefix is exact. */
	mm = BPF_CORE_READ(task, mm);
	arg_start = BPF_CORE_READ(mm, arg_start);
	arg_end = BPF_CORE_READ(mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	bound = argv_max;
	if (bound > VIGIL_ARGV_CAP)
		bound = VIGIL_ARGV_CAP;
	if (len > bound) {
		len = bound;
		ev->flags |= VIGIL_EXEC_F_ARGV_TRUNC;
	}
	if (len > VIGIL_ARGV_CAP)
		len = VIGIL_ARGV_CAP; /* for the verifier */
	if (len > 0 && bpf_probe_read_user(s->data, len, (const void *)arg_start) != 0) {
		ev->flags |= VIGIL_EXEC_F_ARGV_FAIL;
		vigil_count(VIGIL_CNT_ARGV_READ_FAIL);
		len = 0;
	}
	ev->argv_len = len;
	pos = len;

	pos = fill_image(ev, task, VIGIL_SCRATCH_HOOK, pos);

	ev->filename_len = 0;
	if (filename) {
		barrier_var(pos);
		n = bpf_probe_read_kernel_str(&s->data[pos & VIGIL_DATA_MASK], VIGIL_PATH_CAP, filename);
		if (n > 0) {
			ev->filename_len = n;
			if (n == VIGIL_PATH_CAP)
				ev->flags |= VIGIL_EXEC_F_FILENAME_TRUNC;
			pos += n;
		}
	}
	submit_exec_record(s, pos, VIGIL_EV_EXEC, now);
	return 0;
}

/* fork: child is a new task; threads are not processes and are skipped. */
static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child,
				   __u32 extra_flags)
{
	struct vigil_fork_event ev = {};
	__u32 child_tgid = BPF_CORE_READ(child, tgid);

	if (child_tgid != BPF_CORE_READ(child, pid))
		return 0; /* a thread */
	if (self_tgid && BPF_CORE_READ(parent, tgid) == self_tgid)
		return 0;

	vigil_fill_task(&ev.child, child);
	ev.child.flags |= VIGIL_TASK_F_ID_FROM_START | extra_flags;
	ev.child.exec_id = vigil_id_from_start(ev.child.start_ns);
	ev.child.parent_exec_id = parent_exec_id(&ev.child, child);
	ev.parent_tid = BPF_CORE_READ(parent, pid);
	vigil_set_exec_id(child_tgid, ev.child.exec_id, BPF_ANY);
	vigil_fill_header(&ev.hdr, VIGIL_EV_FORK, VIGIL_FORK_VERSION, sizeof(ev));
	vigil_submit(&ev, sizeof(ev), VIGIL_EV_FORK);
	return 0;
}

/* exit: only the last thread of a process reports (signal->live hit 0). */
static __always_inline int on_exit(struct task_struct *task)
{
	struct vigil_exit_event ev = {};
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 from_start = 0;

	if (self_tgid && tgid == self_tgid)
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads still run */

	vigil_fill_task(&ev.task, task);
	ev.task.exec_id = vigil_exec_id_of(task, &from_start);
	if (from_start)
		ev.task.flags |= VIGIL_TASK_F_ID_FROM_START;
	ev.task.parent_exec_id = parent_exec_id(&ev.task, task);
	ev.exit_code = BPF_CORE_READ(task, exit_code);
	bpf_map_delete_elem(&vigil_procs, &tgid);
	vigil_fill_header(&ev.hdr, VIGIL_EV_EXIT, VIGIL_EXIT_VERSION, sizeof(ev));
	vigil_submit(&ev, sizeof(ev), VIGIL_EV_EXIT);
	return 0;
}

/*
 * sched_process_exec fires after the new image is installed (begin_new_exec
 * has run and mm->arg_start/arg_end point into the new stack), before the
 * task returns to user space: argv and exe_file are those of the new image.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(p, BPF_CORE_READ(bprm, filename));
}

SEC("tracepoint/sched/sched_process_exec")
int vigil_exec_tp(struct trace_event_raw_sched_process_exec *ctx)
{
	/* __data_loc: low 16 bits are the offset of the string in the record. */
	__u32 loc = BPF_CORE_READ(ctx, __data_loc_filename);
	const char *filename = (const char *)ctx + (loc & 0xFFFF);

	return on_exec((struct task_struct *)bpf_get_current_task(), filename);
}

/*
 * sched_process_fork fires in the parent once the child is fully set up
 * (credentials, namespaces, cgroup, start time) and before it first runs, so
 * a child's fork record is always ahead of anything the child does.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(vigil_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child, 0);
}

/*
 * The classic tracepoint carries only pids. copy_process() appends a new
 * process to its parent's children list, so the newest child is the list's
 * tail; take it when its pid matches (CLONE_PARENT puts it on the
 * grandparent's list). Threads are on neither list and are skipped.
 */
SEC("tracepoint/sched/sched_process_fork")
int vigil_fork_tp(struct trace_event_raw_sched_process_fork *ctx)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
	__u32 child_pid = BPF_CORE_READ(ctx, child_pid);
	struct task_struct *owners[2] = { cur, BPF_CORE_READ(cur, real_parent) };
	int i;

	for (i = 0; i < 2; i++) {
		struct list_head *last = BPF_CORE_READ(owners[i], children.prev);
		struct task_struct *child = container_of(last, struct task_struct, sibling);

		if ((__u32)BPF_CORE_READ(child, pid) == child_pid)
			return on_fork(cur, child, 0);
	}
	return 0;
}

/*
 * sched_process_exit fires in do_exit() after signal->live was decremented
 * and exit_code set, for every thread; the last one reports the process.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(vigil_exit_btf, struct task_struct *p)
{
	return on_exit(p);
}

SEC("tracepoint/sched/sched_process_exit")
int vigil_exit_tp(void *ctx)
{
	return on_exit((struct task_struct *)bpf_get_current_task());
}

/*
 * Task iterator: one VIGIL_EV_SNAPSHOT record per process (thread-group
 * leader) alive when user space reads the iterator, and its exec_id entered
 * into vigil_procs unless an exec already put a newer one there.
 */
SEC("iter/task")
int vigil_task_iter(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct vigil_exec_scratch *s;
	struct vigil_exec_event *ev;
	__u32 from_start = 0;
	__u32 pos;

	if (!task || BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	s = vigil_exec_scratch(VIGIL_SCRATCH_ITER);
	if (!s)
		return 0;
	ev = &s->ev;

	vigil_fill_task(&ev->task, task);
	ev->task.exec_id = vigil_exec_id_of(task, &from_start);
	if (from_start) {
		ev->task.flags |= VIGIL_TASK_F_ID_FROM_START;
		vigil_set_exec_id(ev->task.pid, ev->task.exec_id, BPF_NOEXIST);
	}
	ev->task.parent_exec_id = vigil_exec_id_of(BPF_CORE_READ(task, real_parent), &from_start);
	if (from_start)
		ev->task.flags |= VIGIL_TASK_F_PARENT_ID_FROM_START;
	ev->flags = 0;
	ev->argv_len = 0;
	ev->filename_len = 0;
	pos = fill_image(ev, task, VIGIL_SCRATCH_ITER, 0);

	__u64 size = sizeof(s->ev) + (__u64)pos;
	if (size > sizeof(s->ev) + 3 * VIGIL_PATH_CAP)
		size = sizeof(s->ev) + 3 * VIGIL_PATH_CAP;
	vigil_fill_header(&ev->hdr, VIGIL_EV_SNAPSHOT, VIGIL_EXEC_VERSION, size);
	if (bpf_seq_write(seq, s, size) != 0)
		vigil_count(VIGIL_CNT_ITER_WRITE_FAIL);
	return 0;
}
