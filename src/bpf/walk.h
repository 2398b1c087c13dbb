/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Walking a (mount, dentry) pair up to the task's root, one bpf_loop step at a time: the
 * part the eBPF monitor (relative paths, cwd) and the BPF-LSM enforcer (every checked
 * path) share. Each caller keeps its own buffer and writes the components itself.
 */
#ifndef KNOXCTL_WALK_H
#define KNOXCTL_WALK_H

/* Where a walk stands between bpf_loop steps; kernel pointers are kept as numbers
 * (every dereference goes through bpf_probe_read_kernel anyway). */
struct walk_pos {
	__u64 dentry;
	__u64 vmnt;
	__u64 mnt;
	__u64 root_dentry;
	__u64 root_mnt;
	__u64 mnt_off; /* offset of struct vfsmount in struct mount */
};

#define WALK_DONE 0 /* at the task's root, the top of the mount tree or a detached root */
#define WALK_MOUNT 1 /* crossed from a mount's root to its mount point: nothing to write */
#define WALK_NAME 2 /* *name is the next component (to prepend); pos is at its parent */

static __always_inline void walk_start(struct walk_pos *p, struct vfsmount *vmnt,
				       struct dentry *dentry, struct task_struct *task)
{
	struct fs_struct *fs = READ_KERN(task->fs);
	p->mnt_off = FIELD_OFFSET(struct mount, mnt);
	p->dentry = (__u64)dentry;
	p->vmnt = (__u64)vmnt;
	p->mnt = (__u64)vmnt - p->mnt_off;
	p->root_dentry = (__u64)READ_KERN(fs->root.dentry);
	p->root_mnt = (__u64)READ_KERN(fs->root.mnt);
}

static __always_inline int walk_up(struct walk_pos *p, struct qstr *name)
{
	struct dentry *dentry = (struct dentry *)p->dentry;
	struct vfsmount *vmnt = (struct vfsmount *)p->vmnt;
	struct mount *mnt = (struct mount *)p->mnt;
	if (p->dentry == p->root_dentry && p->vmnt == p->root_mnt)
		return WALK_DONE;
	struct dentry *mnt_root = READ_KERN(vmnt->mnt_root);
	if (dentry == mnt_root) {
		struct mount *parent = READ_KERN(mnt->mnt_parent);
		if (parent == mnt || !parent)
			return WALK_DONE; /* the top of the mount tree */
		p->dentry = (__u64)READ_KERN(mnt->mnt_mountpoint);
		p->mnt = (__u64)parent;
		p->vmnt = (__u64)parent + p->mnt_off;
		return WALK_MOUNT;
	}
	struct dentry *up = READ_KERN(dentry->d_parent);
	if (up == dentry || !up)
		return WALK_DONE; /* the root of a detached tree */
	*name = READ_KERN(dentry->d_name);
	p->dentry = (__u64)up;
	return WALK_NAME;
}

#endif
