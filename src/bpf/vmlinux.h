/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The few kernel types knoxctl's BPF programs (the monitor, the BPF-LSM enforcer) read, written by hand instead of the multi-megabyte
 * `bpftool btf dump` output. Every struct carries preserve_access_index, so clang records
 * each field access as a CO-RE relocation and the loader (aya) rewrites the offsets from
 * the running kernel's BTF: the layouts below only have to name the right fields, not
 * match any kernel's real layout. Anonymous unions/structs mirror the kernel's nesting so
 * that the access paths match the target BTF exactly.
 */
#ifndef KNOXCTL_VMLINUX_H
#define KNOXCTL_VMLINUX_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u16 umode_t;
typedef int pid_t;
typedef _Bool bool;
typedef __u32 dev_t;
typedef unsigned int fmode_t;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
};

typedef struct {
	__u32 val;
} kuid_t;

struct super_block {
	dev_t s_dev;
};

struct inode {
	umode_t i_mode;
	kuid_t i_uid;
	struct super_block *i_sb;
	unsigned long i_ino;
	__u32 i_generation;
};

/* The kernel nests hash and len in an anonymous struct inside an anonymous union. */
struct qstr {
	union {
		struct {
			__u32 hash;
			__u32 len;
		};
		__u64 hash_len;
	};
	const unsigned char *name;
};

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
};

struct vfsmount {
	struct dentry *mnt_root;
};

/* fs/mount.h: the vfsmount is embedded in a struct mount. */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct file {
	struct path f_path;
	void *private_data;
	struct inode *f_inode;
	unsigned int f_flags;
	fmode_t f_mode;
};

struct fs_struct {
	struct path root;
};

/* Since 5.x the mm's fields sit in an anonymous struct (before a flexible cpu bitmap). */
struct mm_struct {
	struct {
		struct file *exe_file;
	};
};

struct ns_common {
	unsigned int inum;
};

struct mnt_namespace {
	struct ns_common ns;
};

struct nsproxy {
	struct mnt_namespace *mnt_ns;
};

struct cred {
	kuid_t uid;
	kuid_t euid;
};

/* x86-64's saved user registers: the syscall number and its arguments. */
struct pt_regs {
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
};

struct linux_binprm {
	struct file *file;
	const char *filename;
};

struct vm_area_struct {
	struct file *vm_file;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct pid_namespace;

/* A process id in each pid namespace from the initial one (numbers[0]) down to its own
 * (numbers[level]). */
struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct task_struct {
	int exit_code;
	pid_t pid;
	pid_t tgid;
	__u64 start_time;
	__u64 start_boottime;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct mm_struct *mm;
	struct fs_struct *fs;
	struct files_struct *files;
	struct nsproxy *nsproxy;
	struct signal_struct *signal;
	struct pid *thread_pid;
};

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be16 u6_addr16[8];
		__be32 u6_addr32[4];
	} in6_u;
};

struct sock_common {
	union {
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
};

/* sk_protocol and sk_type are plain u16 fields since Linux 5.6; ring buffers (this
 * monitor's transport) need 5.8, so no bitfield handling is needed. */
struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
};

struct socket {
	short type;
	struct sock *sk;
};

struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

struct trace_event_raw_sched_process_exec {
	struct trace_entry ent;
	__u32 __data_loc_filename;
	pid_t pid;
	pid_t old_pid;
};

#pragma clang attribute pop

#endif
