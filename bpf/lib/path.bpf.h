/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Bounded dentry walk: turns a struct path into its components, leaf first,
 * each NUL-terminated, crossing mount points up to the root of the task's
 * mount tree, written into this CPU's exec scratch data. User space reverses
 * the components (collectors/process/decoder.cc).
 *
 * One step per bpf_loop() iteration (kernel >= 5.17): the verifier checks the
 * step once instead of every path through VIGIL_PATH_DEPTH unrolled steps.
 * Depends on common.bpf.h and scratch.bpf.h.
 */
#pragma once

#include "common.bpf.h"
#include "scratch.bpf.h"

struct vigil_path_walk {
	struct dentry *dentry; /* current component */
	struct vfsmount *vfsmnt; /* its mount */
	struct mount *mnt; /* container of vfsmnt */
	__u32 pos; /* data offset where the walk started */
	__u32 written; /* bytes written so far */
	__u32 truncated; /* 1 until the walk reaches a root */
	__u32 scratch_user; /* enum vigil_scratch_user: whose slot data goes to */
};

/* One component; returns 1 to stop the loop. Copies w's pointers into
 * locals first: BPF_CORE_READ relocates its whole first argument, and
 * struct vigil_path_walk is ours, not the kernel's. */
static long vigil_path_step(__u32 index, void *arg)
{
	struct vigil_path_walk *w = arg;
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct vigil_exec_scratch *s;
	const unsigned char *name;
	__u32 at;
	long n;

	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent;

		if (dentry != mnt_root) {
			/* A root that is not a mount root: a detached tree. */
			w->truncated = 0;
			return 1;
		}
		mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		if (mnt_parent == mnt) {
			w->truncated = 0; /* root of this mount tree */
			return 1;
		}
		/* Continue from the mount point, in the parent mount. */
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = &mnt_parent->mnt;
		return 0;
	}

	if (w->written > VIGIL_PATH_CAP - VIGIL_NAME_CAP)
		return 1; /* no room for another component */
	at = w->pos + w->written;
	barrier_var(at); /* keep clang from dropping the mask below */
	s = vigil_exec_scratch(w->scratch_user);
	if (!s)
		return 1;
	name = BPF_CORE_READ(dentry, d_name.name);
	n = bpf_probe_read_kernel_str(&s->data[at & VIGIL_DATA_MASK], VIGIL_NAME_CAP, name);
	if (n <= 0)
		return 1;
	w->written += n;
	w->dentry = parent;
	return 0;
}

/*
 * Writes the components of *path into this CPU's scratch data at pos.
 * Returns the bytes written; sets *truncated when the walk stopped before
 * reaching a root (depth or size bound).
 */
static __always_inline __u32 vigil_path_walk(const struct path *path, __u32 scratch_user, __u32 pos,
					     __u32 *truncated)
{
	struct vigil_path_walk w = {};

	w.dentry = BPF_CORE_READ(path, dentry);
	w.vfsmnt = BPF_CORE_READ(path, mnt);
	w.mnt = container_of(w.vfsmnt, struct mount, mnt);
	w.pos = pos;
	w.truncated = 1;
	w.scratch_user = scratch_user;
	if (!w.dentry || !w.vfsmnt) {
		*truncated = 1;
		return 0;
	}
	bpf_loop(VIGIL_PATH_DEPTH, vigil_path_step, &w, 0);
	*truncated = w.truncated;
	return w.written;
}
