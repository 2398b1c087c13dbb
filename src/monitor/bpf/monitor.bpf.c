// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * knoxctl's eBPF monitor: tracepoint programs reporting process (exec, exit, fork), file
 * (open) and network (connect, accept, bind) events to userspace through one ring buffer.
 * src/monitor/mod.rs loads this object (committed as monitor.bpf.o, rebuilt by
 * scripts/build-bpf.sh) and decodes `struct event`; the two must agree on its layout.
 *
 * Only tracepoints are used: kernels knoxctl runs on may lack kprobes or refuse fentry and
 * BPF-LSM (the 6.18 dev and CI VMs do both), while syscall and sched tracepoints and
 * tp_btf load there.
 *
 * Syscalls are traced in two halves: the enter tracepoint stashes the user pointers and
 * flags per thread (`pending`), the exit tracepoint reads them back, adds the return value
 * and emits the event. Strings are read at exit, as opensnoop does, so the enter half
 * stays cheap. Like any syscall-tracepoint monitor, this reports what the caller's memory
 * holds then, which another of its threads could have rewritten since the kernel copied
 * it; successful execs use sched_process_exec's filename, the kernel's own copy.
 */
#include "vmlinux.h"
#include "helpers.h"

#define PATH_MAX 4096
#define TASK_COMM_LEN 16
#define UNIX_PATH_MAX 108

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000

/* Event kinds; mirrored by `KIND_*` in mod.rs. */
#define EV_EXEC 1
#define EV_EXIT 2
#define EV_FORK 3
#define EV_OPEN 4
#define EV_CONNECT 5
#define EV_ACCEPT 6
#define EV_BIND 7

/* Indexes into `config`; mirrored by `CONFIG_*` in mod.rs. */
#define CFG_EXEC 0
#define CFG_FILES 1
#define CFG_NETWORK 2
#define CFG_LEN 4

/*
 * One event. The fixed header is EVENT_HDR_SIZE bytes; only `path_len` bytes of `path`
 * follow it in the ring buffer, so a typical exec costs ~100 bytes of ring, not 4 KiB.
 */
struct event {
	__u64 ts_ns; /* bpf_ktime_get_boot_ns() */
	__u32 kind;
	__u32 tgid;
	__u32 ppid;
	__u32 tid;
	__u32 uid;
	__s32 flags;
	__s64 retval;
	__u16 family;
	__u16 sock_type;
	__u16 protocol;
	__u16 port; /* host byte order */
	__u8 addr[16]; /* IPv4 in the first 4 bytes, network byte order */
	char comm[TASK_COMM_LEN];
	__u32 path_len; /* bytes of path, including its NUL; 0 without a path */
	__u32 has_addr; /* addr and port are set */
	char path[PATH_MAX];
};

#define EVENT_HDR_SIZE __builtin_offsetof(struct event, path)
_Static_assert(EVENT_HDR_SIZE == 88, "struct event header layout is part of the ABI");

/* What an enter tracepoint saw, for its exit tracepoint. */
struct pending {
	__u64 ptr; /* user pointer: path or sockaddr */
	__s64 arg; /* open/exec flags, or the socket fd */
	__u32 kind; /* EV_* */
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* overridden at load by mod.rs */
} events SEC(".maps");

/* Events lost because the ring buffer was full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Family switches (CFG_*): nonzero means report. All off until userspace writes them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_LEN);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

/* Processes (tgid) whose activity is not reported: the agent itself. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} ignore_pids SEC(".maps");

/*
 * Per thread (tid), the syscall in flight. LRU so that entries whose exit never comes (a
 * thread killed inside the syscall, a successful exec from a non-leader thread that
 * changed tid) age out instead of filling the map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

/* The event being built: too big for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

/* Field layouts of the syscalls:* tracepoints: stable ABI, the same on every kernel. */
struct sys_enter_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

struct sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

static __always_inline bool enabled(__u32 family)
{
	__u32 *on = bpf_map_lookup_elem(&config, &family);
	return on && *on;
}

static __always_inline bool ignored(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	return bpf_map_lookup_elem(&ignore_pids, &tgid) != 0;
}

/* The scratch event, with its header filled for the current task. */
static __always_inline struct event *new_event(__u32 kind)
{
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *parent = READ_KERN(task->real_parent);

	e->ts_ns = bpf_ktime_get_boot_ns();
	e->kind = kind;
	e->tgid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = READ_KERN(parent->tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->flags = 0;
	e->retval = 0;
	e->family = 0;
	e->sock_type = 0;
	e->protocol = 0;
	e->port = 0;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->path_len = 0;
	e->has_addr = 0;
	return e;
}

static __always_inline void set_path_len(struct event *e, long n)
{
	e->path_len = n > 0 ? n : 0;
}

/*
 * Writes the event without waking the reader, except when this record makes the unread
 * data cross a quarter of the ring; otherwise the reader polls on a short timeout
 * (POLL_TIMEOUT_MS in mod.rs). The default, a wakeup per event, costs an irq_work and a
 * reader context switch per event: on the 2-core dev VM (kernel.bpf_stats_enabled) the
 * openat exit program took 1.9 us per call with it and 0.75 us without, sched_process_exit
 * 4.1 us and 0.9 us. A crossing missed because other CPUs wrote at the same moment only
 * delays the reader to its timeout.
 */
static __always_inline void submit(struct event *e)
{
	__u64 len = e->path_len;
	if (len > PATH_MAX)
		len = PATH_MAX;
	__u64 size = EVENT_HDR_SIZE + len;
	/* A record takes an 8-byte header plus the data, rounded up to 8 bytes. */
	__u64 record = (size + 8 + 7) & ~7ULL;
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 threshold = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4;
	__u64 wakeup = avail < threshold && avail + record >= threshold ? BPF_RB_FORCE_WAKEUP
									 : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, e, size, wakeup) != 0) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1; /* per-CPU slot: no other writer */
	}
}

static __always_inline int stash(__u32 family, __u32 kind, __u64 ptr, __s64 arg)
{
	if (!enabled(family) || ignored())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending p = { .ptr = ptr, .arg = arg, .kind = kind };
	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
	return 0;
}

/* Takes (reads and deletes) this thread's pending syscall if it is of `kind`. */
static __always_inline bool take(__u32 kind, struct pending *out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return false;
	*out = *p;
	bpf_map_delete_elem(&pending, &tid);
	return out->kind == kind;
}

/* ---- process: exec, exit, fork ---- */

SEC("tracepoint/syscalls/sys_enter_execve")
int enter_execve(struct sys_enter_ctx *ctx)
{
	return stash(CFG_EXEC, EV_EXEC, ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int enter_execveat(struct sys_enter_ctx *ctx)
{
	return stash(CFG_EXEC, EV_EXEC, ctx->args[1], (__s32)ctx->args[4]);
}

/*
 * A successful exec is reported by sched_process_exec (below), with the new program's
 * comm and credentials; the exit tracepoint reports only failures, which never reach it.
 */
static __always_inline int exec_exit(struct sys_exit_ctx *ctx)
{
	struct pending p;
	if (!take(EV_EXEC, &p) || ctx->ret == 0)
		return 0;
	struct event *e = new_event(EV_EXEC);
	if (!e)
		return 0;
	e->retval = ctx->ret;
	e->flags = p.arg;
	set_path_len(e, bpf_probe_read_user_str(e->path, PATH_MAX, (void *)p.ptr));
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int exit_execve(struct sys_exit_ctx *ctx)
{
	return exec_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int exit_execveat(struct sys_exit_ctx *ctx)
{
	return exec_exit(ctx);
}

SEC("tracepoint/sched/sched_process_exec")
int sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	if (!enabled(CFG_EXEC) || ignored())
		return 0;
	/* The stash is keyed by the tid that called exec, which de_thread() may have
	 * replaced by the leader's: old_pid is that original tid. */
	__u32 old_tid = ctx->old_pid;
	struct pending *p = bpf_map_lookup_elem(&pending, &old_tid);
	__s32 flags = 0;
	if (p) {
		flags = p->arg;
		bpf_map_delete_elem(&pending, &old_tid);
	}
	struct event *e = new_event(EV_EXEC);
	if (!e)
		return 0;
	e->flags = flags;
	/* bprm->filename, the kernel's own copy of the name it executed. */
	__u32 off = ctx->__data_loc_filename & 0xffff;
	set_path_len(e, bpf_probe_read_kernel_str(e->path, PATH_MAX, (void *)ctx + off));
	submit(e);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int sched_exit(void *ctx)
{
	if (!enabled(CFG_EXEC) || ignored())
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	/* Fires for every thread; only the last one (signal->live already decremented to
	 * zero by do_exit) ends the process. */
	struct signal_struct *signal = READ_KERN(task->signal);
	if (READ_KERN(signal->live.counter) != 0)
		return 0;
	struct event *e = new_event(EV_EXIT);
	if (!e)
		return 0;
	e->retval = READ_KERN(task->exit_code); /* wait(2) status: code << 8 | signal */
	submit(e);
	return 0;
}

/*
 * tp_btf rather than the classic tracepoint: it hands over the child's task_struct, the
 * only way to tell a new process from a new thread (the classic one only has the tid).
 */
SEC("tp_btf/sched_process_fork")
int sched_fork(__u64 *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx[1];
	if (!enabled(CFG_EXEC) || ignored())
		return 0;
	__u32 pid = READ_KERN(child->pid);
	__u32 tgid = READ_KERN(child->tgid);
	if (pid != tgid)
		return 0; /* a thread */
	struct event *e = new_event(EV_FORK);
	if (!e)
		return 0;
	/* The event is about the child; CLONE_PARENT may give it another parent than us. */
	struct task_struct *parent = READ_KERN(child->real_parent);
	e->tgid = tgid;
	e->tid = pid;
	e->ppid = READ_KERN(parent->tgid);
	submit(e);
	return 0;
}

/* ---- files: open, openat, openat2, creat ---- */

SEC("tracepoint/syscalls/sys_enter_open")
int enter_open(struct sys_enter_ctx *ctx)
{
	return stash(CFG_FILES, EV_OPEN, ctx->args[0], (__s32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int enter_creat(struct sys_enter_ctx *ctx)
{
	return stash(CFG_FILES, EV_OPEN, ctx->args[0], O_CREAT | O_WRONLY | O_TRUNC);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct sys_enter_ctx *ctx)
{
	return stash(CFG_FILES, EV_OPEN, ctx->args[1], (__s32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct sys_enter_ctx *ctx)
{
	/* struct open_how starts with `__u64 flags` (uapi). */
	__u64 flags = 0;
	if (!enabled(CFG_FILES) || ignored())
		return 0;
	bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[2]);
	return stash(CFG_FILES, EV_OPEN, ctx->args[1], (__s32)flags);
}

static __always_inline int open_exit(struct sys_exit_ctx *ctx)
{
	struct pending p;
	if (!take(EV_OPEN, &p))
		return 0;
	struct event *e = new_event(EV_OPEN);
	if (!e)
		return 0;
	e->retval = ctx->ret;
	e->flags = p.arg;
	set_path_len(e, bpf_probe_read_user_str(e->path, PATH_MAX, (void *)p.ptr));
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct sys_exit_ctx *ctx)
{
	return open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int exit_creat(struct sys_exit_ctx *ctx)
{
	return open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct sys_exit_ctx *ctx)
{
	return open_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct sys_exit_ctx *ctx)
{
	return open_exit(ctx);
}

/* ---- network: connect, accept, accept4, bind ---- */

/* The socket behind fd in the current task, or NULL if fd is not a socket. */
static __always_inline struct socket *socket_of(__s64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = READ_KERN(task->files);
	struct fdtable *fdt = READ_KERN(files->fdt);
	__u32 max_fds = READ_KERN(fdt->max_fds);
	if (fd < 0 || fd >= max_fds)
		return 0;
	struct file **fds = READ_KERN(fdt->fd);
	struct file *file = 0;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return 0;
	struct inode *inode = READ_KERN(file->f_inode);
	if ((READ_KERN(inode->i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	return READ_KERN(file->private_data);
}

/* family, type and protocol of the socket; returns its struct sock. */
static __always_inline struct sock *socket_info(struct event *e, __s64 fd)
{
	struct socket *sock = socket_of(fd);
	if (!sock)
		return 0;
	struct sock *sk = READ_KERN(sock->sk);
	e->sock_type = READ_KERN(sock->type);
	if (!sk)
		return 0;
	e->family = READ_KERN(sk->__sk_common.skc_family);
	e->protocol = READ_KERN(sk->sk_protocol);
	return sk;
}

/* The address a connect/bind caller passed (user memory). */
static __always_inline void user_sockaddr(struct event *e, __u64 uaddr)
{
	__u16 family = 0;
	if (!uaddr || bpf_probe_read_user(&family, sizeof(family), (void *)uaddr))
		return;
	e->family = family;
	if (family == AF_INET) {
		/* struct sockaddr_in: family, port, addr */
		__u16 port = 0;
		bpf_probe_read_user(&port, 2, (void *)(uaddr + 2));
		e->port = __builtin_bswap16(port);
		e->has_addr = bpf_probe_read_user(e->addr, 4, (void *)(uaddr + 4)) == 0;
	} else if (family == AF_INET6) {
		/* struct sockaddr_in6: family, port, flowinfo, addr[16], scope_id */
		__u16 port = 0;
		bpf_probe_read_user(&port, 2, (void *)(uaddr + 2));
		e->port = __builtin_bswap16(port);
		e->has_addr = bpf_probe_read_user(e->addr, 16, (void *)(uaddr + 8)) == 0;
	} else if (family == AF_UNIX) {
		/* sun_path; an abstract name (leading NUL) is shown as "@name". */
		char first = 0;
		bpf_probe_read_user(&first, 1, (void *)(uaddr + 2));
		if (first) {
			set_path_len(e, bpf_probe_read_user_str(e->path, UNIX_PATH_MAX,
								(void *)(uaddr + 2)));
		} else {
			long n = bpf_probe_read_user_str(e->path + 1, UNIX_PATH_MAX - 1,
							 (void *)(uaddr + 3));
			e->path[0] = '@';
			set_path_len(e, n > 0 ? n + 1 : 0);
		}
	}
}

static __always_inline int sockaddr_exit(struct sys_exit_ctx *ctx, __u32 kind)
{
	struct pending p;
	if (!take(kind, &p))
		return 0;
	struct event *e = new_event(kind);
	if (!e)
		return 0;
	e->retval = ctx->ret;
	socket_info(e, p.arg);
	user_sockaddr(e, p.ptr);
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct sys_enter_ctx *ctx)
{
	return stash(CFG_NETWORK, EV_CONNECT, ctx->args[1], (__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct sys_exit_ctx *ctx)
{
	return sockaddr_exit(ctx, EV_CONNECT);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int enter_bind(struct sys_enter_ctx *ctx)
{
	return stash(CFG_NETWORK, EV_BIND, ctx->args[1], (__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int exit_bind(struct sys_exit_ctx *ctx)
{
	return sockaddr_exit(ctx, EV_BIND);
}

SEC("tracepoint/syscalls/sys_enter_accept")
int enter_accept(struct sys_enter_ctx *ctx)
{
	return stash(CFG_NETWORK, EV_ACCEPT, 0, (__s32)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int enter_accept4(struct sys_enter_ctx *ctx)
{
	return stash(CFG_NETWORK, EV_ACCEPT, 0, (__s32)ctx->args[0]);
}

/*
 * The peer comes from the accepted socket itself, not from the caller's buffer, which
 * may be NULL (accept(fd, NULL, NULL) is common). A failed accept reports the listening
 * socket's family, type and protocol.
 */
static __always_inline int accept_exit(struct sys_exit_ctx *ctx)
{
	struct pending p;
	if (!take(EV_ACCEPT, &p))
		return 0;
	struct event *e = new_event(EV_ACCEPT);
	if (!e)
		return 0;
	e->retval = ctx->ret;
	if (ctx->ret < 0) {
		socket_info(e, p.arg);
	} else {
		struct sock *sk = socket_info(e, ctx->ret);
		if (sk && e->family == AF_INET) {
			e->port = __builtin_bswap16(READ_KERN(sk->__sk_common.skc_dport));
			e->has_addr = bpf_probe_read_kernel(e->addr, 4,
							    __builtin_preserve_access_index(
								    &sk->__sk_common.skc_daddr)) == 0;
		} else if (sk && e->family == AF_INET6) {
			e->port = __builtin_bswap16(READ_KERN(sk->__sk_common.skc_dport));
			e->has_addr = bpf_probe_read_kernel(e->addr, 16,
							    __builtin_preserve_access_index(
								    &sk->__sk_common.skc_v6_daddr)) == 0;
		}
	}
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct sys_exit_ctx *ctx)
{
	return accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct sys_exit_ctx *ctx)
{
	return accept_exit(ctx);
}

/* GPL-compatible: bpf_probe_read_* and bpf_get_current_task are GPL-only helpers. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";
