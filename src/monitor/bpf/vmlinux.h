/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The few kernel types monitor.bpf.c reads, written by hand instead of the multi-megabyte
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

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
};

struct inode {
	umode_t i_mode;
};

struct file {
	void *private_data;
	struct inode *f_inode;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct task_struct {
	int exit_code;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct files_struct *files;
	struct signal_struct *signal;
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
