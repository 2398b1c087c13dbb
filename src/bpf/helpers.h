/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The BPF helper declarations and map-definition macros monitor.bpf.c uses, spelled out
 * here (same ids and signatures as libbpf's bpf_helper_defs.h) instead of included from
 * libbpf-dev: the compiled object then depends only on the clang version, not on which
 * libbpf headers happen to be installed, and stays byte-for-byte reproducible.
 */
#ifndef KNOXCTL_HELPERS_H
#define KNOXCTL_HELPERS_H

#define SEC(name) __attribute__((section(name), used))
#define __always_inline inline __attribute__((always_inline))
#define true 1
#define false 0
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

/* enum bpf_map_type (include/uapi/linux/bpf.h). */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_LRU_HASH 9
#define BPF_MAP_TYPE_LPM_TRIE 11
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_MAP_TYPE_INODE_STORAGE 28

/* Map flags; LPM tries must be created with BPF_F_NO_PREALLOC. */
#define BPF_F_NO_PREALLOC 1
/* `pinning` value: the loader pins the map under its name and reuses a pinned one. */
#define LIBBPF_PIN_BY_NAME 1

#define BPF_ANY 0

/* bpf_ringbuf_output flags and bpf_ringbuf_query selectors. */
#define BPF_RB_NO_WAKEUP 1
#define BPF_RB_FORCE_WAKEUP 2
#define BPF_RB_AVAIL_DATA 0
#define BPF_RB_RING_SIZE 1

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
				   __u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static __u64 (*bpf_get_current_uid_gid)(void) = (void *)15;
static long (*bpf_get_current_comm)(void *buf, __u32 size_of_buf) = (void *)16;
/* The current task's cgroup v2 id: the inode of its cgroup directory (4.18). */
static __u64 (*bpf_get_current_cgroup_id)(void) = (void *)80;
static __u64 (*bpf_get_current_task)(void) = (void *)35;
static long (*bpf_probe_read_user)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)112;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)113;
static long (*bpf_probe_read_user_str)(void *dst, __u32 size,
				       const void *unsafe_ptr) = (void *)114;
static long (*bpf_probe_read_kernel_str)(void *dst, __u32 size,
					 const void *unsafe_ptr) = (void *)115;
static __u64 (*bpf_ktime_get_boot_ns)(void) = (void *)125;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;
static __u64 (*bpf_ringbuf_query)(void *ringbuf, __u64 flags) = (void *)134;
static long (*bpf_send_signal)(__u32 sig) = (void *)109;
/* The current task as a BTF pointer: its fields can be read with plain loads (5.11). */
static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;
/* The value of an inode storage map on `inode` (created with BPF_LOCAL_STORAGE_GET_F_CREATE);
 * lives as long as the inode does (5.10, BPF-LSM programs). */
static void *(*bpf_inode_storage_get)(void *map, void *inode, void *value,
				      __u64 flags) = (void *)145;
#define BPF_LOCAL_STORAGE_GET_F_CREATE 1
/* The task's saved user registers (5.15). */
static struct pt_regs *(*bpf_task_pt_regs)(struct task_struct *task) = (void *)175;
/* Runs callback(i, ctx) up to nr_loops times (until it returns 1); the verifier checks
 * the callback once instead of every iteration (Linux 5.17). */
static long (*bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx,
			__u64 flags) = (void *)181;

/*
 * Reads one kernel field through bpf_probe_read_kernel. The field's address is computed
 * under __builtin_preserve_access_index, so the offsets become CO-RE relocations; a failed
 * read yields zero.
 */
#define READ_KERN(field)                                                                   \
	({                                                                                 \
		typeof(field) __v;                                                         \
		__builtin_memset(&__v, 0, sizeof(__v));                                    \
		bpf_probe_read_kernel(&__v, sizeof(__v),                                   \
				      __builtin_preserve_access_index(&(field)));          \
		__v;                                                                       \
	})

/* Keeps clang from narrowing or reordering a bounds-masked value before the verifier sees it. */
#define barrier_var(var) asm volatile("" : "+r"(var))

/* The byte offset of a field in the running kernel (a CO-RE relocation). */
#define FIELD_OFFSET(type, field) __builtin_preserve_field_info(((type *)0)->field, 0)

#endif
