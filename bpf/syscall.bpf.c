// SPDX-License-Identifier: GPL-2.0-only
/*
 * Syscalls and file activity: the watched syscalls, each reported once with
 * its arguments (user memory read at enter) and its return value, filtered in
 * the kernel by cgroup and, for file syscalls, by watched path prefix; and
 * per (cgroup, syscall) call counters.
 *
 * Two hook families run the same code (collectors/syscall/syscall_bpf.cc
 * picks one, bench/results/syscall_overhead.md says why):
 *  - per-syscall tracepoints: vigil_sys_enter_tp/vigil_sys_exit_tp attached
 *    to syscalls:sys_enter_<name>/sys_exit_<name> for each watched syscall
 *    only; the kernel skips unwatched syscalls before any BPF runs;
 *  - a dispatcher: tp_btf sys_enter/sys_exit, run for every syscall, which
 *    returns at once for numbers whose spec is off.
 *
 * What each argument is (an integer, a string, a path, a sockaddr, ...) is
 * data in vigil_sys_specs, written by user space (collectors/syscall/
 * syscall_table.cc), so adding a syscall needs no change here.
 *
 * The process object (bpf/process.bpf.c) owns the ring buffer, the counter
 * array and the pid -> exec_id map; user space makes this object reuse them,
 * so records of both arrive in one ring, in capture order.
 */
#include "lib/common.bpf.h"
#include "lib/task.bpf.h"
#include "lib/rate.bpf.h"
#include "shared/process.h"
#include "shared/syscall.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD -100
#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */

/* Load-time settings, written by user space between open and load. */
const volatile __u32 self_tgid = 0; /* the agent's own pid: never reported */
const volatile __u32 nr_prefixes = 0; /* watched prefixes in use; 0 = file syscalls unfiltered */
const volatile char prefixes[VIGIL_SYS_PREFIXES][VIGIL_SYS_PREFIX_CAP] = {}; /* NUL-terminated, no trailing '/' */
const volatile __u32 prefix_len[VIGIL_SYS_PREFIXES] = {}; /* bytes before the NUL */
const volatile __u32 prefix_access[VIGIL_SYS_PREFIXES] = {}; /* VIGIL_ACCESS_* each prefix watches */
/* The first 8 bytes of each prefix (little-endian) and the mask of those
 * that are in it: a path whose first 8 bytes differ skips the string compare. */
const volatile __u64 prefix_head[VIGIL_SYS_PREFIXES] = {};
const volatile __u64 prefix_head_mask[VIGIL_SYS_PREFIXES] = {};
const volatile __u64 rate_cost_ns = 0; /* rate limit: 1e9 / events per second per cgroup; 0 = no limit */
const volatile __u64 rate_burst_ns = 0; /* rate limit: burst events x rate_cost_ns */
const volatile __u32 nr_include_cgroups = 0; /* vigil_sys_cgroups[0, n) */
const volatile __u32 nr_exclude_cgroups = 0; /* vigil_sys_cgroups[VIGIL_SYS_CGROUPS, +n) */

/* Per syscall number: how to capture it (written by user space). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_SYS_NR_MAX);
	__type(key, __u32);
	__type(value, struct vigil_sys_spec);
} vigil_sys_specs SEC(".maps");

/* Calls without data between enter and exit, by pid_tgid. Size set by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct vigil_sys_event);
} vigil_sys_pending SEC(".maps");

struct vigil_sys_record {
	struct vigil_sys_event ev;
	__u8 data[VIGIL_SYS_DATA_CAP];
};

/* Calls with argument data between enter and exit. Not preallocated: its
 * memory follows the calls actually in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct vigil_sys_record);
} vigil_sys_pending_data SEC(".maps");

/* Per-(cgroup, syscall) call counts. Size set by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vigil_sys_count_key);
	__type(value, __u64);
} vigil_sys_counts SEC(".maps");

/* Rate limit state per cgroup id (only with a rate limit). Size set by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vigil_rate_state);
} vigil_sys_rate SEC(".maps");

/* cgroup v2 directories: include list first, exclude list from VIGIL_SYS_CGROUPS. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 2 * VIGIL_SYS_CGROUPS);
	__type(key, __u32);
	__type(value, __u32);
} vigil_sys_cgroups SEC(".maps");

/*
 * Per-CPU scratch. Syscall hooks run with preemption disabled and never
 * nest on a CPU, so one slot per CPU is enough.
 * Any offset masked with DATA_MASK lands in data with VIGIL_SYS_STR_CAP bytes
 * of room after it; real offsets stay below VIGIL_SYS_DATA_CAP.
 */
#define DATA_MASK (VIGIL_SYS_DATA_CAP - 1)
#define STR_MASK (VIGIL_SYS_STR_CAP - 1)
#define CHUNK_ROOM (sizeof(struct vigil_sys_chunk) + VIGIL_SYS_STR_CAP)

struct vigil_sys_scratch {
	struct vigil_sys_event ev;
	__u8 data[VIGIL_SYS_DATA_CAP + VIGIL_SYS_STR_CAP];
	char tmp[VIGIL_SYS_STR_CAP]; /* a relative path while its base is walked */
	const unsigned char *names[VIGIL_PATH_DEPTH]; /* path components, leaf first */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_sys_scratch);
} vigil_sys_heap SEC(".maps");

static __always_inline struct vigil_sys_scratch *scratch(void)
{
	__u32 zero = 0;
	struct vigil_sys_scratch *s = bpf_map_lookup_elem(&vigil_sys_heap, &zero);

	if (!s)
		vigil_count(VIGIL_CNT_SCRATCH_MISS);
	return s;
}

/* ---- paths, root first ------------------------------------------------- */

struct collect_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	__u32 n; /* components collected */
	__u32 truncated; /* 1 until a root is reached */
};

/* Pass 1: one component (its name pointer) per step, leaf to root.
 * The mount crossing is the same as vigil_path_step's (lib/path.bpf.h). A
 * shared step taking the walk state by pointer pushed the verifier's
 * exploration of the enter program past its limit, so each walk keeps its
 * own copy. */
static long collect_step(__u32 index, void *arg)
{
	struct collect_ctx *c = arg;
	struct dentry *dentry = c->dentry;
	struct vfsmount *vfsmnt = c->vfsmnt;
	struct mount *mnt = c->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct vigil_sys_scratch *s;
	__u32 n = c->n;

	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent;

		if (dentry != mnt_root) {
			c->truncated = 0; /* root of a detached tree */
			return 1;
		}
		mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		if (mnt_parent == mnt) {
			c->truncated = 0; /* root of the mount tree */
			return 1;
		}
		c->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = mnt_parent;
		c->vfsmnt = &mnt_parent->mnt;
		return 0;
	}
	s = scratch();
	if (!s || n >= VIGIL_PATH_DEPTH)
		return 1;
	barrier_var(n);
	s->names[n & (VIGIL_PATH_DEPTH - 1)] = BPF_CORE_READ(dentry, d_name.name);
	c->n = n + 1;
	c->dentry = parent;
	return 0;
}

struct emit_ctx {
	__u32 n; /* components */
	__u32 at; /* where the next byte goes */
	__u32 end; /* first offset past the room */
	__u32 truncated;
};

/* Pass 2: "/" and one component per step, root to leaf. */
static long emit_step(__u32 index, void *arg)
{
	struct emit_ctx *e = arg;
	struct vigil_sys_scratch *s = scratch();
	__u32 i = e->n - 1 - index;
	__u32 at = e->at;
	long len;

	if (!s || i >= VIGIL_PATH_DEPTH)
		return 1;
	barrier_var(i);
	i &= VIGIL_PATH_DEPTH - 1; /* the verifier loses the check above on a copy */
	if (at + 2 >= e->end) {
		e->truncated = 1;
		return 1;
	}
	barrier_var(at);
	s->data[at & DATA_MASK] = '/';
	at++;
	barrier_var(at);
	len = bpf_probe_read_kernel_str(&s->data[at & DATA_MASK], VIGIL_NAME_CAP, s->names[i]);
	if (len <= 0)
		return 1;
	/* The name must end before the room does; the NUL is overwritten next. */
	if (at + len > e->end) {
		e->truncated = 1;
		return 1;
	}
	e->at = at + len - 1;
	return 0;
}

/*
 * Writes the absolute path of *path at data[pos], NUL-terminated, using at
 * most room bytes. Returns the bytes written without the NUL; sets
 * *truncated when the walk or the room was cut short.
 */
static __always_inline __u32 write_path(struct vigil_sys_scratch *s, const struct path *path, __u32 pos,
					__u32 room, __u32 *truncated)
{
	struct collect_ctx c = {};
	struct emit_ctx e = {};

	c.dentry = BPF_CORE_READ(path, dentry);
	c.vfsmnt = BPF_CORE_READ(path, mnt);
	c.mnt = container_of(c.vfsmnt, struct mount, mnt);
	c.truncated = 1;
	if (c.dentry && c.vfsmnt)
		bpf_loop(VIGIL_PATH_DEPTH, collect_step, &c, 0);
	e.n = c.n;
	e.at = pos;
	e.end = pos + room;
	if (c.n > 0)
		bpf_loop(c.n, emit_step, &e, 0);
	if (e.at == pos) {
		barrier_var(pos);
		s->data[pos & DATA_MASK] = '/';
		e.at = pos + 1;
	}
	barrier_var(e.at);
	s->data[e.at & DATA_MASK] = 0;
	*truncated = c.truncated | e.truncated;
	return e.at - pos;
}

/* The struct file behind fd in the current task, or NULL. */
static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || (__u64)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* ---- watched prefixes and cgroups ---------------------------------------- */

/* Index + 1 of the first prefix watching path for access, else 0. */
static __always_inline __u16 match_prefix(struct vigil_sys_scratch *s, __u32 pos, __u32 access)
{
	const char *path;
	int i;

	__u64 head;

	barrier_var(pos);
	path = (const char *)&s->data[pos & DATA_MASK];
	__builtin_memcpy(&head, path, sizeof(head));
#pragma unroll
	for (i = 0; i < VIGIL_SYS_PREFIXES; i++) {
		__u32 len;
		char next;

		if (i >= nr_prefixes)
			break;
		if (!(prefix_access[i] & access) || (head & prefix_head_mask[i]) != prefix_head[i])
			continue;
		len = prefix_len[i] & (VIGIL_SYS_PREFIX_CAP - 1);
		if (len == 0)
			continue;
		if (bpf_strncmp(path, len, (const char *)prefixes[i]) != 0)
			continue;
		next = path[len];
		if (next == 0 || next == '/' || len == 1 /* "/" */)
			return i + 1;
	}
	return 0;
}

static __always_inline int cgroup_allowed(void)
{
	int i, found;

	if (nr_include_cgroups) {
		found = 0;
#pragma unroll
		for (i = 0; i < VIGIL_SYS_CGROUPS; i++) {
			if (i < nr_include_cgroups && bpf_current_task_under_cgroup(&vigil_sys_cgroups, i) == 1) {
				found = 1;
				break;
			}
		}
		if (!found)
			return 0;
	}
#pragma unroll
	for (i = 0; i < VIGIL_SYS_CGROUPS; i++) {
		if (i < nr_exclude_cgroups &&
		    bpf_current_task_under_cgroup(&vigil_sys_cgroups, VIGIL_SYS_CGROUPS + i) == 1)
			return 0;
	}
	return 1;
}

static __always_inline void count_call(__u64 cgroup_id, __u32 nr)
{
	struct vigil_sys_count_key key = { .cgroup_id = cgroup_id, .nr = nr };
	__u64 one = 1, *v;

	v = bpf_map_lookup_elem(&vigil_sys_counts, &key);
	if (v) {
		*v += 1;
		return;
	}
	if (bpf_map_update_elem(&vigil_sys_counts, &key, &one, BPF_NOEXIST) == 0)
		return;
	v = bpf_map_lookup_elem(&vigil_sys_counts, &key); /* lost a race to insert it */
	if (v)
		*v += 1;
	else
		vigil_count(VIGIL_CNT_SYS_COUNT_FULL);
}

/* ---- arguments ----------------------------------------------------------- */

/* Starts a chunk at pos; returns 0 when no chunk of the largest size fits. */
static __always_inline struct vigil_sys_chunk *chunk_at(struct vigil_sys_scratch *s, __u32 pos)
{
	if (pos + CHUNK_ROOM > VIGIL_SYS_DATA_CAP) {
		s->ev.flags |= VIGIL_SYS_F_DATA_TRUNC;
		return 0;
	}
	barrier_var(pos);
	return (struct vigil_sys_chunk *)&s->data[pos & DATA_MASK];
}

/*
 * A path argument made absolute: relative paths get the directory they are
 * relative to (dirfd or cwd) walked in front of them.
 */
static __always_inline __u32 capture_path(struct vigil_sys_scratch *s, struct vigil_sys_chunk *c,
					  __u32 body, const char *uptr, long dirfd, int relative_to_cwd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 base = 0, truncated = 0, len;
	long n;

	n = bpf_probe_read_user_str(s->tmp, sizeof(s->tmp), uptr);
	if (n <= 0) {
		c->flags |= VIGIL_CHUNK_F_FAULT;
		return 0;
	}
	if (n == VIGIL_SYS_STR_CAP)
		c->flags |= VIGIL_CHUNK_F_TRUNC;
	if (s->tmp[0] != '/') {
		struct file *dir = 0;

		if (relative_to_cwd || dirfd == AT_FDCWD) {
			struct fs_struct *fs = BPF_CORE_READ(task, fs);

			if (fs)
				base = write_path(s, &fs->pwd, body, VIGIL_SYS_STR_CAP / 2, &truncated);
		} else {
			dir = fd_file(task, dirfd);
			if (dir)
				base = write_path(s, &dir->f_path, body, VIGIL_SYS_STR_CAP / 2, &truncated);
		}
		if (truncated)
			c->flags |= VIGIL_CHUNK_F_BASE_TRUNC;
		if (base > 0 && n > 1) {
			if (base > 1) {
				__u32 at = body + base;

				barrier_var(at);
				s->data[at & DATA_MASK] = '/';
				base++;
			}
			c->flags |= VIGIL_CHUNK_F_RELATIVE;
		}
		c->base_len = base;
	}
	if (n > 1 || base == 0) {
		__u32 at = body + base;
		__u32 cap = VIGIL_SYS_STR_CAP - base;
		__u32 m = n;

		if (m > cap) {
			m = cap;
			c->flags |= VIGIL_CHUNK_F_TRUNC;
		}
		if (m > VIGIL_SYS_STR_CAP)
			m = VIGIL_SYS_STR_CAP; /* for the verifier */
		barrier_var(at);
		if (m > 0)
			bpf_probe_read_kernel(&s->data[at & DATA_MASK], m, s->tmp);
		len = base + m;
		at = body + len - 1;
		barrier_var(at);
		s->data[at & DATA_MASK] = 0; /* keep it terminated when cut */
		return len;
	}
	return base + 1; /* "" against a directory: the directory itself */
}

/*
 * Captures argument i into a chunk at *pos. at_exit: the exit half (OUT
 * arguments, and IN arguments that were unreadable at enter).
 * Returns the data offset of the chunk's body for PATH arguments, else 0.
 */
static __always_inline __u32 capture_arg(struct vigil_sys_scratch *s, const struct vigil_sys_spec *spec, __u32 i,
					 __u32 *pos, int at_exit)
{
	__u8 type, aux;
	const void *uptr;
	struct vigil_sys_chunk *c;
	__u32 body, len = 0, path_body = 0;
	long n;

	if (i >= VIGIL_SYS_ARGS)
		return 0;
	type = spec->type[i];
	aux = spec->aux[i];
	uptr = (const void *)s->ev.args[i];
	if (type <= VIGIL_ARG_INT)
		return 0;
	if ((type == VIGIL_ARG_SOCKADDR_OUT) != at_exit && !(at_exit && (s->ev.flags >> (VIGIL_SYS_F_FAULT_SHIFT + i)) & 1))
		return 0;
	if (!uptr)
		return 0; /* NULL: nothing to read; the register says so */
	c = chunk_at(s, *pos);
	if (!c)
		return 0;
	c->arg = i;
	c->type = type;
	c->flags = at_exit ? VIGIL_CHUNK_F_AT_EXIT : 0;
	c->len = 0;
	c->base_len = 0;
	body = *pos + sizeof(*c);
	barrier_var(body);

	if (type == VIGIL_ARG_STR) {
		n = bpf_probe_read_user_str(&s->data[body & DATA_MASK], VIGIL_SYS_STR_CAP, uptr);
		if (n > 0) {
			len = n;
			if (n == VIGIL_SYS_STR_CAP)
				c->flags |= VIGIL_CHUNK_F_TRUNC;
		} else {
			c->flags |= VIGIL_CHUNK_F_FAULT;
		}
	} else if (type == VIGIL_ARG_PATH) {
		long dirfd = aux < VIGIL_SYS_ARGS ? (long)(int)s->ev.args[aux & 7] : AT_FDCWD;

		len = capture_path(s, c, body, uptr, dirfd, aux == VIGIL_ARG_AUX_CWD);
		path_body = body;
	} else if (type == VIGIL_ARG_BUF) {
		__u32 size = aux;

		if (size > VIGIL_SYS_BUF_CAP)
			size = VIGIL_SYS_BUF_CAP;
		if (size > 0 && bpf_probe_read_user(&s->data[body & DATA_MASK], size, uptr) == 0)
			len = size;
		else
			c->flags |= VIGIL_CHUNK_F_FAULT;
	} else if (type == VIGIL_ARG_SOCKADDR || type == VIGIL_ARG_SOCKADDR_OUT) {
		__u32 size = 0, out_len = 0;

		if (type == VIGIL_ARG_SOCKADDR)
			size = (__u32)s->ev.args[aux & 7];
		else if (s->ev.ret >= 0 &&
			 bpf_probe_read_user(&out_len, sizeof(out_len), (const void *)s->ev.args[aux & 7]) == 0)
			size = out_len;
		if (size > VIGIL_SYS_SOCKADDR_CAP)
			size = VIGIL_SYS_SOCKADDR_CAP;
		barrier_var(size);
		size &= 0xff; /* keeps the bound through spills */
		if (size > 0 && bpf_probe_read_user(&s->data[body & DATA_MASK], size, uptr) == 0)
			len = size;
		else if (type == VIGIL_ARG_SOCKADDR || s->ev.ret >= 0)
			c->flags |= VIGIL_CHUNK_F_FAULT;
	}
	if (c->flags & VIGIL_CHUNK_F_FAULT) {
		if (!at_exit && type != VIGIL_ARG_SOCKADDR_OUT) {
			/* Not paged in yet, most likely: the kernel will have
			 * faulted it in by exit, so try again then. */
			s->ev.flags |= 1U << (VIGIL_SYS_F_FAULT_SHIFT + i);
			vigil_count(VIGIL_CNT_SYS_READ_AT_EXIT);
		} else if (at_exit) {
			vigil_count(VIGIL_CNT_SYS_READ_FAIL);
		}
		len = 0;
	}
	c->len = len;
	*pos = body + len;
	return path_body;
}

/* The access an open-style call asks for, from its O_* flags. */
static __always_inline __u32 open_access(__u64 flags)
{
	__u32 access = (flags & O_ACCMODE) == O_WRONLY ? VIGIL_ACCESS_WRITE :
		       (flags & O_ACCMODE) == O_RDWR	 ? VIGIL_ACCESS_READ | VIGIL_ACCESS_WRITE :
							   VIGIL_ACCESS_READ;

	if (flags & (O_CREAT | O_TRUNC))
		access |= VIGIL_ACCESS_WRITE;
	return access;
}

struct args_ctx {
	__u32 nr; /* whose spec */
	__u32 pos; /* data offset of the next chunk */
	__u32 at_exit;
};

/* One argument per bpf_loop() step: the verifier checks the capture code
 * once instead of once per unrolled argument. */
static long capture_step(__u32 index, void *arg)
{
	struct args_ctx *a = arg;
	struct vigil_sys_scratch *s = scratch();
	const struct vigil_sys_spec *spec;
	__u32 nr = a->nr, pos = a->pos, path_body;

	if (!s)
		return 1;
	spec = bpf_map_lookup_elem(&vigil_sys_specs, &nr);
	if (!spec)
		return 1;
	path_body = capture_arg(s, spec, index, &pos, a->at_exit);
	if (path_body && nr_prefixes && !s->ev.prefix && s->ev.cls != VIGIL_SYS_CLASS_GENERIC)
		s->ev.prefix = match_prefix(s, path_body, s->ev.access);
	a->pos = pos;
	return 0;
}

/*
 * Captures every IN argument at enter (at_exit 0), or at exit the OUT
 * arguments and those unreadable at enter (at_exit 1), appending chunks from
 * pos and matching path arguments against the watched prefixes. Returns the
 * new data length.
 */
static __always_inline __u32 capture_args(__u32 nr, __u32 pos, int at_exit)
{
	struct args_ctx a = { .nr = nr, .pos = pos, .at_exit = at_exit };

	bpf_loop(VIGIL_SYS_ARGS, capture_step, &a, 0);
	return a.pos;
}

/* Identity, arguments and class of the current call into ev. */
static __always_inline void fill_call(struct vigil_sys_event *ev, const struct vigil_sys_spec *spec, __u32 nr,
				      __u64 pid_tgid, __u64 cgroup_id, const __u64 *args)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 uid_gid = bpf_get_current_uid_gid();
	__u32 from_start = 0;
	int i;

	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->exec_id = vigil_exec_id_of_tgid(task, pid_tgid >> 32, &from_start);
	ev->cgroup_id = cgroup_id;
	ev->uid = (__u32)uid_gid;
	ev->gid = uid_gid >> 32;
	ev->enter_ns = bpf_ktime_get_boot_ns();
	ev->ret = 0;
#pragma unroll
	for (i = 0; i < VIGIL_SYS_ARGS; i++)
		ev->args[i] = args[i];
	ev->nr = nr;
	ev->cls = spec->cls;
	ev->flags = from_start ? VIGIL_SYS_F_ID_FROM_START : 0;
	ev->data_len = 0;
	ev->access = 0;
	ev->prefix = 0;
	if (spec->cls != VIGIL_SYS_CLASS_GENERIC) {
		__u32 access = spec->access;
		__u8 fa = spec->open_flags_arg;

		if (fa < VIGIL_SYS_ARGS) {
			access |= open_access(ev->args[fa & 7]);
		} else if (fa == VIGIL_OPEN_FLAGS_HOW) {
			__u64 how_flags = 0;

			bpf_probe_read_user(&how_flags, sizeof(how_flags), (const void *)ev->args[2]);
			access |= open_access(how_flags);
		}
		ev->access = access;
	}
	bpf_get_current_comm(&ev->comm, sizeof(ev->comm));
}

/* ---- enter and exit ---------------------------------------------------- */

static __always_inline const struct vigil_sys_spec *watched(__u32 nr)
{
	const struct vigil_sys_spec *spec;

	if (nr >= VIGIL_SYS_NR_MAX)
		return 0;
	spec = bpf_map_lookup_elem(&vigil_sys_specs, &nr);
	if (!spec || spec->mode == VIGIL_SYS_OFF)
		return 0;
	return spec;
}

/* Whether the current call is reported at all (not the agent's own, not
 * filtered by cgroup). The caller counts it per (cgroup, syscall). */
static __always_inline int admit_call(__u64 *pid_tgid, __u64 *cgroup_id)
{
	*pid_tgid = bpf_get_current_pid_tgid();
	if (self_tgid && (*pid_tgid >> 32) == self_tgid)
		return 0;
	if ((nr_include_cgroups || nr_exclude_cgroups) && !cgroup_allowed()) {
		vigil_count(VIGIL_CNT_SYS_CGROUP_FILTERED);
		return 0;
	}
	*cgroup_id = bpf_get_current_cgroup_id();
	return 1;
}

/* Enter of a watched syscall (spec from watched()). */
static __always_inline int sys_enter(const struct vigil_sys_spec *spec, __u32 nr, const __u64 *args)
{
	__u64 pid_tgid, cgroup_id;
	struct vigil_sys_scratch *s;
	__u32 pos;

	if (!spec->has_data)
		return 0; /* all at exit: sys_exit_direct() */
	if (!admit_call(&pid_tgid, &cgroup_id))
		return 0;
	count_call(cgroup_id, nr);
	if (spec->mode != VIGIL_SYS_TRACE)
		return 0;

	s = scratch();
	if (!s)
		return 0;
	fill_call(&s->ev, spec, nr, pid_tgid, cgroup_id, args);
	pos = capture_args(nr, 0, 0);
	s->ev.data_len = pos;
	if (nr_prefixes && spec->cls != VIGIL_SYS_CLASS_GENERIC && !s->ev.prefix) {
		if (spec->cls == VIGIL_SYS_CLASS_FILE) {
			vigil_count(VIGIL_CNT_SYS_PATH_FILTERED);
			return 0;
		}
		/* An open outside the watched prefixes may still open a
		 * watched file through a symlink: keep only the call, and
		 * decide at exit from the file actually opened. */
		s->ev.data_len = 0;
		if (bpf_map_update_elem(&vigil_sys_pending, &pid_tgid, &s->ev, BPF_ANY) != 0)
			vigil_count(VIGIL_CNT_SYS_PENDING_FULL);
		return 0;
	}
	if (bpf_map_update_elem(&vigil_sys_pending_data, &pid_tgid, s, BPF_ANY) != 0)
		vigil_count(VIGIL_CNT_SYS_PENDING_FULL);
	return 0;
}

/* ---- load shedding ------------------------------------------------------ */

/* The optional per-cgroup rate limit on syscall records (lib/rate.bpf.h). */
static __always_inline int rate_allows(__u64 cgroup_id)
{
	return vigil_rate_allows(&vigil_sys_rate, cgroup_id, rate_cost_ns, rate_burst_ns, VIGIL_EV_SYSCALL,
				 VIGIL_CNT_RB_FULL_SYSCALL);
}

/* Sends the finished record in the scratch. */
static __always_inline void send(struct vigil_sys_scratch *s, __u32 pos)
{
	__u64 size;

	if (!rate_allows(s->ev.cgroup_id))
		return;
	s->ev.data_len = pos;
	size = sizeof(s->ev) + (pos & (VIGIL_SYS_DATA_CAP * 2 - 1));
	if (size > sizeof(s->ev) + VIGIL_SYS_DATA_CAP)
		size = sizeof(s->ev) + VIGIL_SYS_DATA_CAP;
	s->ev.flags &= (1U << VIGIL_SYS_F_FAULT_SHIFT) - 1;
	vigil_fill_header(&s->ev.hdr, VIGIL_EV_SYSCALL, VIGIL_SYSCALL_VERSION, size);
	vigil_submit_or_count(s, size,
			      s->ev.cls == VIGIL_SYS_CLASS_GENERIC ? VIGIL_CNT_RB_FULL_SYSCALL : VIGIL_CNT_RB_FULL_FILE);
}

/* Appends the path of the fd an open returned; matches it if nothing did yet. */
static __always_inline __u32 add_resolved(struct vigil_sys_scratch *s, __u32 pos)
{
	struct file *f = fd_file((struct task_struct *)bpf_get_current_task(), s->ev.ret);
	struct vigil_sys_chunk *c;
	__u32 body, len, truncated = 0;

	if (!f)
		return pos;
	c = chunk_at(s, pos);
	if (!c)
		return pos;
	body = pos + sizeof(*c);
	len = write_path(s, &f->f_path, body, VIGIL_SYS_STR_CAP - 1, &truncated);
	c->arg = VIGIL_CHUNK_RESOLVED;
	c->type = VIGIL_ARG_PATH;
	c->flags = VIGIL_CHUNK_F_AT_EXIT | (truncated ? VIGIL_CHUNK_F_TRUNC : 0);
	c->len = len + 1;
	c->base_len = 0;
	if (nr_prefixes && !s->ev.prefix)
		s->ev.prefix = match_prefix(s, body, s->ev.access);
	return body + len + 1;
}

/* Exit of a watched syscall (spec from watched()). */
static __always_inline int sys_exit(const struct vigil_sys_spec *spec, __u32 nr, __s64 ret)
{
	struct vigil_sys_event *small;
	struct vigil_sys_record *big;
	struct vigil_sys_scratch *s;
	__u64 pid_tgid;
	__u32 pos;

	if (spec->mode != VIGIL_SYS_TRACE)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (self_tgid && (pid_tgid >> 32) == self_tgid)
		return 0;

	small = bpf_map_lookup_elem(&vigil_sys_pending, &pid_tgid);
	if (small && small->nr != nr) {
		/* A stale entry (its exit never came, e.g. a thread that left
		 * through execve); this exit is not the call it kept. */
		bpf_map_delete_elem(&vigil_sys_pending, &pid_tgid);
		small = 0;
	}
	s = scratch();
	if (!s)
		return 0;
	if (small) {
		/* An open outside the watched prefixes: report it only when the
		 * file it opened is watched. */
		__u32 resolved_at;

		bpf_probe_read_kernel(&s->ev, sizeof(s->ev), small);
		bpf_map_delete_elem(&vigil_sys_pending, &pid_tgid);
		if (ret < 0) {
			vigil_count(VIGIL_CNT_SYS_PATH_FILTERED);
			return 0;
		}
		s->ev.ret = ret;
		s->ev.prefix = 0;
		resolved_at = add_resolved(s, 0);
		if (!s->ev.prefix) {
			vigil_count(VIGIL_CNT_SYS_PATH_FILTERED);
			return 0;
		}
		/* Watched: read the arguments again (flagged: read at exit). */
		s->ev.flags |= VIGIL_SYS_F_REREAD;
		pos = capture_args(nr, resolved_at, 0);
		send(s, pos);
		return 0;
	}

	big = bpf_map_lookup_elem(&vigil_sys_pending_data, &pid_tgid);
	if (!big) {
		vigil_count(VIGIL_CNT_SYS_NO_ENTER);
		return 0;
	}
	if (big->ev.nr != nr || ((spec->flags & VIGIL_SYS_SPEC_FAIL_ONLY) && ret >= 0)) {
		bpf_map_delete_elem(&vigil_sys_pending_data, &pid_tgid);
		return 0;
	}
	pos = big->ev.data_len;
	if (pos > VIGIL_SYS_DATA_CAP)
		pos = VIGIL_SYS_DATA_CAP;
	bpf_probe_read_kernel(s, sizeof(s->ev) + pos, big);
	bpf_map_delete_elem(&vigil_sys_pending_data, &pid_tgid);
	s->ev.ret = ret;
	pos = capture_args(nr, pos, 1);
	if (spec->cls == VIGIL_SYS_CLASS_OPEN && ret >= 0)
		pos = add_resolved(s, pos);
	send(s, pos);
	return 0;
}

/*
 * A call without memory arguments, whole at its exit: counted, then built
 * straight in the ring buffer with the arguments from the saved registers
 * (the kernel leaves them as they were at entry; only ax becomes the return
 * value). No enter program, no pending entry: a third of the work of a
 * paired call. The record has no duration (VIGIL_SYS_F_EXIT_ONLY).
 */
static __always_inline int sys_exit_direct(const struct vigil_sys_spec *spec, __u32 nr, __s64 ret, const __u64 *args)
{
	struct vigil_sys_event *ev;
	__u64 pid_tgid, cgroup_id;

	if (!admit_call(&pid_tgid, &cgroup_id))
		return 0;
	if (spec->mode != VIGIL_SYS_TRACE || ((spec->flags & VIGIL_SYS_SPEC_FAIL_ONLY) && ret >= 0) ||
	    !rate_allows(cgroup_id)) {
		count_call(cgroup_id, nr);
		return 0;
	}
	ev = bpf_ringbuf_reserve(&vigil_events, sizeof(*ev), 0);
	if (!ev) {
		count_call(cgroup_id, nr);
		vigil_count(VIGIL_CNT_RB_FULL_SYSCALL);
		return 0;
	}
	/* Delivered: the reader counts it (VIGIL_SYS_F_EXIT_ONLY), which spares
	 * the traced call a hash update; and the record's one clock read serves
	 * as both its time and its enter time. */
	fill_call(ev, spec, nr, pid_tgid, cgroup_id, args);
	ev->ret = ret;
	ev->flags |= VIGIL_SYS_F_EXIT_ONLY;
	vigil_fill_header_at(&ev->hdr, VIGIL_EV_SYSCALL, VIGIL_SYSCALL_VERSION, sizeof(*ev), ev->enter_ns);
	bpf_ringbuf_submit(ev, vigil_wakeup_flags(sizeof(*ev)));
	return 0;
}

/* ---- hooks -------------------------------------------------------------- */

/* The record of a syscalls:sys_enter_<name> / sys_exit_<name> tracepoint
 * (struct syscall_trace_enter / syscall_trace_exit in kernel/trace). */
struct sys_enter_ctx {
	__u64 common; /* struct trace_entry */
	__s32 nr;
	__u32 pad;
	/* then the syscall's own arguments, as many as it has */
};

struct sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* x86_64 pt_regs holds r10, r9, r8, ax, cx, dx, si and di in a row: the
 * six argument registers in one 64-byte read instead of the whole struct. */
struct arg_regs {
	__u64 r10, r9, r8, ax, cx, dx, si, di;
};

/* The current task's syscall arguments from its saved user registers;
 * 0, or -1 when they cannot be read. */
static __always_inline int saved_args(__u64 *args)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	struct arg_regs r;

	if (bpf_probe_read_kernel(&r, sizeof(r), (char *)regs + __builtin_offsetof(struct pt_regs, r10)) != 0)
		return -1;
	args[0] = r.di;
	args[1] = r.si;
	args[2] = r.dx;
	args[3] = r.r10;
	args[4] = r.r8;
	args[5] = r.r9;
	return 0;
}

/* x86_64 syscall arguments from the saved user registers. */
static __always_inline void regs_args(__u64 *args, const struct pt_regs *r)
{
	args[0] = r->di;
	args[1] = r->si;
	args[2] = r->dx;
	args[3] = r->r10;
	args[4] = r->r8;
	args[5] = r->r9;
}

/*
 * Per-syscall tracepoints: attached by user space to the enter and exit
 * tracepoint of each watched syscall only, so unwatched syscalls run no BPF
 * at all. The kernel does not fire these for 32-bit (compat) syscalls.
 *
 * A tracepoint record holds only as many arguments as its syscall has, and
 * the kernel refuses to attach a program that reads further into it; so the
 * arguments come from the saved registers, which always hold six.
 */
SEC("tracepoint")
int vigil_sys_enter_tp(struct sys_enter_ctx *ctx)
{
	const struct vigil_sys_spec *spec = watched(ctx->nr);
	__u64 args[VIGIL_SYS_ARGS];

	if (!spec || !spec->has_data || saved_args(args) != 0)
		return 0;
	return sys_enter(spec, ctx->nr, args);
}

SEC("tracepoint")
int vigil_sys_exit_tp(struct sys_exit_ctx *ctx)
{
	const struct vigil_sys_spec *spec = watched(ctx->nr);
	__u64 args[VIGIL_SYS_ARGS];

	if (!spec)
		return 0;
	if (spec->has_data)
		return sys_exit(spec, ctx->nr, ctx->ret);
	if (saved_args(args) != 0)
		return 0;
	return sys_exit_direct(spec, ctx->nr, ctx->ret, args);
}

static __always_inline int is_compat(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) != 0;
}

/*
 * The dispatcher: runs on every syscall of every task, returns at once for
 * numbers whose spec is off. Arguments come from the saved user registers
 * (x86_64 order: di, si, dx, r10, r8, r9). 32-bit syscalls are skipped, as
 * the per-syscall tracepoints skip them.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(vigil_sys_enter_btf, struct pt_regs *regs, long id)
{
	const struct vigil_sys_spec *spec = watched(id);
	__u64 args[VIGIL_SYS_ARGS];

	if (!spec || is_compat())
		return 0;
	regs_args(args, regs);
	return sys_enter(spec, id, args);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(vigil_sys_exit_btf, struct pt_regs *regs, long ret)
{
	__u32 nr = regs->orig_ax;
	const struct vigil_sys_spec *spec = watched(nr);
	__u64 args[VIGIL_SYS_ARGS];

	if (!spec || is_compat())
		return 0;
	if (spec->has_data)
		return sys_exit(spec, nr, ret);
	regs_args(args, regs);
	return sys_exit_direct(spec, nr, ret, args);
}
