// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * knoxctl's eBPF monitor: tracepoint programs reporting process (exec, exit, fork), file
 * (open), network (connect, accept, bind) events and the syscalls that syscall rules name
 * to userspace through one ring buffer.
 * src/monitor/mod.rs loads this object (committed as monitor.bpf.o, rebuilt by
 * scripts/build-bpf.sh) and decodes `struct event`; the two must agree on its layout.
 *
 * Tracepoints carry everything: kernels knoxctl runs on may lack kprobes or refuse fentry
 * and BPF-LSM (the 6.18 dev and CI machines do both), while syscall and sched tracepoints
 * and tp_btf load there. The one exception is an optional cheaper route for opens (fexit,
 * see open_fexit) used only where the kernel accepts it.
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
#include "walk.h"

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
#define EV_SYSCALL 8
/* A watched process exec'd under an unknown label (see unreached_tgids): for mod.rs's
 * reader only, which reads the new label and relabels or removes the entry. */
#define EV_UNREACHED_EXEC 9

/* Indexes into `config`; mirrored by `CONFIG_*` in mod.rs. */
#define CFG_EXEC 0
#define CFG_FILES 1
#define CFG_NETWORK 2
/* Opens of which processes are reported (UNREACHED_*); see `unreached_tgids`. */
#define CFG_UNREACHED 3
#define CFG_LEN 4

/* Values of config[CFG_UNREACHED]; mirrored by `UNREACHED_*` in mod.rs. */
#define UNREACHED_OFF 0 /* every open (when CFG_FILES is on); unreached_tgids unused */
#define UNREACHED_TRACK 1 /* every open; unreached_tgids follows forks, execs and exits */
#define UNREACHED_FILTER 2 /* only the opens of processes in unreached_tgids; followed */

/* Values of unreached_tgids; mirrored by `UNREACHED_LABEL_*` in mod.rs. */
#define UNREACHED_LABEL_UNCONFINED 1 /* its next exec puts it under a profile: see below */
#define UNREACHED_LABEL_OTHER 2 /* under another profile, kept across execs */
#define UNREACHED_LABEL_EXECED 3 /* exec'd since: label unknown until userspace reads it */

/*
 * Bytes of `path` in the scratch event. A syscall event holds up to three strings of at
 * most PATH_MAX each (two paths and the executable, see sc_emit); the rest is room for the
 * verifier: a string written at an offset below 16 KiB (STR_OFF_MASK) may be PATH_MAX long.
 */
#define EVENT_BUF (4 * PATH_MAX + PATH_MAX)
#define STR_OFF_MASK (4 * PATH_MAX - 1)

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
	__s32 flags; /* open/exec flags; EV_SYSCALL: the syscall number */
	__s64 retval;
	union {
		struct {
			__u16 family;
			__u16 sock_type;
			__u16 protocol;
			__u16 port; /* host byte order */
			__u8 addr[16]; /* IPv4 in the first 4 bytes, network byte order */
		};
		/* EV_SYSCALL: `path` holds up to three NUL-terminated strings, in this order:
		 * the syscall's path, its second path (rename, link...), the executable. */
		struct {
			__u16 str_len[3]; /* bytes of each, NUL included; 0 when absent */
			__u16 str_flags; /* SCS_* */
			__u8 unused[16];
		};
	};
	char comm[TASK_COMM_LEN];
	__u32 path_len; /* bytes of path, including its NUL; 0 without a path */
	__u32 has_addr; /* addr and port are set */
	/* The task's cgroup v2 id (the inode of its cgroup directory): how the agent tells a
	 * container's process from the host's without reading /proc per event. */
	__u64 cgroup_id;
	/* tgid and ppid as the task's own pid namespace numbers them (a container's view);
	 * ns_ppid is 0 when the parent is outside that namespace. */
	__u32 ns_tgid;
	__u32 ns_ppid;
	char path[EVENT_BUF];
};

#define EVENT_HDR_SIZE __builtin_offsetof(struct event, path)
_Static_assert(EVENT_HDR_SIZE == 104, "struct event header layout is part of the ABI");

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

/*
 * Processes (tgid) whose opens are reported while config[CFG_UNREACHED] is
 * UNREACHED_FILTER: those an enforcer does not reach (AppArmor: running outside its
 * profiles since before they were loaded), so that the opens of every other process, the
 * host's bulk, cost one lookup and no event. mod.rs fills it from /proc at each apply
 * (UNREACHED_TRACK first, so that what forks meanwhile is followed); the sched programs
 * keep it current: a child inherits its forker's entry (and label), an exit removes it.
 * An exec of an UNREACHED_LABEL_UNCONFINED (or _EXECED) process puts it under a profile
 * (AppArmor attaches one at exec), knoxctl's or, for a program with a more specific
 * profile of its own, someone else's: the entry becomes UNREACHED_LABEL_EXECED, still
 * watched, and an EV_UNREACHED_EXEC event asks userspace, which knows AppArmor, to read
 * the label (the program does not: where AppArmor keeps it is kernel-specific) and remove
 * the entry or relabel it. Its opens meanwhile are reported; those knoxctl's profile
 * refuses fail and are not alerted as bypasses. When a fork finds the map full, the
 * program switches back to UNREACHED_TRACK: every open is reported again, the safe side,
 * until the next apply refills it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} unreached_tgids SEC(".maps");

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

/* config[CFG_UNREACHED], UNREACHED_OFF when unset. */
static __always_inline __u32 unreached_mode(void)
{
	__u32 key = CFG_UNREACHED;
	__u32 *mode = bpf_map_lookup_elem(&config, &key);
	return mode ? *mode : UNREACHED_OFF;
}

/* unreached_tgids is full: report every open again (see unreached_tgids). */
static __always_inline void unreached_overflow(void)
{
	__u32 key = CFG_UNREACHED;
	__u32 track = UNREACHED_TRACK;
	bpf_map_update_elem(&config, &key, &track, BPF_ANY);
}

/* Whether the current process's opens are reported (CFG_FILES being on). */
static __always_inline bool opens_watched(void)
{
	if (unreached_mode() != UNREACHED_FILTER)
		return true;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	return bpf_map_lookup_elem(&unreached_tgids, &tgid) != 0;
}

static __always_inline bool ignored(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	return bpf_map_lookup_elem(&ignore_pids, &tgid) != 0;
}

/* The deepest level pid namespaces nest to (MAX_PID_NS_LEVEL). */
#define MAX_PID_NS_LEVEL 32

/* `t`'s pid at `level` of its pid namespace chain, and that level's namespace. */
static __always_inline int pid_at(struct task_struct *t, unsigned int level, void **ns)
{
	struct pid *p = READ_KERN(t->thread_pid);
	if (!p || level >= MAX_PID_NS_LEVEL || READ_KERN(p->level) < level)
		return 0;
	/* numbers[] is a flexible array: its element is found by arithmetic on the relocated
	 * address of numbers[0] (struct upid has been {int, pointer} in every kernel). */
	struct upid *u = (struct upid *)__builtin_preserve_access_index(&p->numbers[0]) + level;
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), u);
	*ns = up.ns;
	return up.nr;
}

/* The task's tgid and its parent's tgid as its own pid namespace numbers them. */
static __always_inline void ns_pids(struct task_struct *task, struct task_struct *parent,
				    struct event *e)
{
	struct task_struct *leader = READ_KERN(task->group_leader);
	struct pid *p = READ_KERN(leader->thread_pid);
	unsigned int level = p ? READ_KERN(p->level) : 0;
	if (level == 0) {
		e->ns_tgid = e->tgid;
		e->ns_ppid = e->ppid;
		return;
	}
	void *ns = 0, *parent_ns = 0;
	e->ns_tgid = pid_at(leader, level, &ns);
	struct task_struct *parent_leader = READ_KERN(parent->group_leader);
	int nr = pid_at(parent_leader, level, &parent_ns);
	e->ns_ppid = parent_ns == ns ? nr : 0;
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
	e->cgroup_id = bpf_get_current_cgroup_id();
	ns_pids(task, parent, e);
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
	if (len > EVENT_BUF)
		len = EVENT_BUF;
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
	if (!enabled(family))
		return 0;
	/* Before any other work: with the filter on, most opens stop here. */
	if (family == CFG_FILES && !opens_watched())
		return 0;
	if (ignored())
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

/*
 * An EV_UNREACHED_EXEC (a header, no path) wakes the reader at once, unlike submit's
 * batching: until it answers, every open of the process is reported, and one put under
 * knoxctl-host may be a shell's loop of them.
 */
static __always_inline void submit_unreached_exec(struct event *e)
{
	if (bpf_ringbuf_output(&events, e, EVENT_HDR_SIZE, BPF_RB_FORCE_WAKEUP) != 0) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
	}
}

SEC("tracepoint/sched/sched_process_exec")
int sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	if (unreached_mode() != UNREACHED_OFF) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		__u8 *label = bpf_map_lookup_elem(&unreached_tgids, &tgid);
		/* Whatever the exec family's switch: such processes are rare. In place, so
		 * that a full map cannot refuse it. */
		if (label && *label != UNREACHED_LABEL_OTHER) {
			*label = UNREACHED_LABEL_EXECED;
			struct event *n = new_event(EV_UNREACHED_EXEC);
			if (n)
				submit_unreached_exec(n);
		}
	}
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
	bool track = unreached_mode() != UNREACHED_OFF;
	bool report = enabled(CFG_EXEC) && !ignored();
	if (!track && !report)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	/* Fires for every thread; only the last one (signal->live already decremented to
	 * zero by do_exit) ends the process. */
	struct signal_struct *signal = READ_KERN(task->signal);
	if (READ_KERN(signal->live.counter) != 0)
		return 0;
	if (track) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_map_delete_elem(&unreached_tgids, &tgid);
	}
	if (!report)
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
	bool track = unreached_mode() != UNREACHED_OFF;
	bool report = enabled(CFG_EXEC) && !ignored();
	if (!track && !report)
		return 0;
	__u32 pid = READ_KERN(child->pid);
	__u32 tgid = READ_KERN(child->tgid);
	if (pid != tgid)
		return 0; /* a thread */
	if (track) {
		/* The child runs under its forker's label (the current task's, whatever its
		 * real_parent after CLONE_PARENT). */
		__u32 forker = bpf_get_current_pid_tgid() >> 32;
		__u8 *label = bpf_map_lookup_elem(&unreached_tgids, &forker);
		if (label) {
			__u8 l = *label;
			if (bpf_map_update_elem(&unreached_tgids, &tgid, &l, BPF_ANY) != 0)
				unreached_overflow();
		}
	}
	if (!report)
		return 0;
	struct event *e = new_event(EV_FORK);
	if (!e)
		return 0;
	/* The event is about the child; CLONE_PARENT may give it another parent than us
	 * (runc's nsexec does). The child runs the forker's program, not its parent's:
	 * retval names the forker (new_event's tgid, before it becomes the child's). */
	struct task_struct *parent = READ_KERN(child->real_parent);
	e->retval = e->tgid;
	e->tgid = tgid;
	e->tid = pid;
	e->ppid = READ_KERN(parent->tgid);
	ns_pids(child, parent, e);
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
	if (!enabled(CFG_FILES) || !opens_watched() || ignored())
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

/*
 * The same open events from fexit programs on the x86-64 syscall functions, which mod.rs
 * attaches instead of the tracepoints above where the kernel allows trampolines (it loads
 * them first and falls back when refused: the 6.18 dev machine refuses them, Debian's and
 * Ubuntu's kernels do not). Why: attaching any syscall tracepoint flags every task for
 * the syscall slow path, so every syscall on the host (not only opens) pays for it while
 * the files family is on; a trampoline costs only the traced function. With AppArmor's
 * unconfined-process watch the files family is on for as long as file rules are loaded,
 * and this was most of the watch's cost (BENCHMARKS.md, "AppArmor enforcer").
 * One program per syscall runs after it: the arguments are still in the caller's saved
 * registers, so no enter half and no `pending` entry are needed.
 */
static __always_inline int open_fexit(__u64 ptr, __s32 flags, __s64 ret)
{
	if (!enabled(CFG_FILES) || !opens_watched() || ignored())
		return 0;
	struct event *e = new_event(EV_OPEN);
	if (!e)
		return 0;
	e->retval = ret;
	e->flags = flags;
	set_path_len(e, bpf_probe_read_user_str(e->path, PATH_MAX, (void *)ptr));
	submit(e);
	return 0;
}

/* ctx[0] is the syscall's `const struct pt_regs *`, ctx[1] its return value. */
SEC("fexit/__x64_sys_openat")
int fexit_openat(__u64 *ctx)
{
	struct pt_regs *regs = (void *)ctx[0];
	return open_fexit(READ_KERN(regs->si), (__s32)READ_KERN(regs->dx), (__s64)ctx[1]);
}

SEC("fexit/__x64_sys_openat2")
int fexit_openat2(__u64 *ctx)
{
	struct pt_regs *regs = (void *)ctx[0];
	/* struct open_how starts with `__u64 flags` (uapi). */
	__u64 flags = 0;
	bpf_probe_read_user(&flags, sizeof(flags), (void *)READ_KERN(regs->dx));
	return open_fexit(READ_KERN(regs->si), (__s32)flags, (__s64)ctx[1]);
}

SEC("fexit/__x64_sys_open")
int fexit_open(__u64 *ctx)
{
	struct pt_regs *regs = (void *)ctx[0];
	return open_fexit(READ_KERN(regs->di), (__s32)READ_KERN(regs->si), (__s64)ctx[1]);
}

SEC("fexit/__x64_sys_creat")
int fexit_creat(__u64 *ctx)
{
	struct pt_regs *regs = (void *)ctx[0];
	return open_fexit(READ_KERN(regs->di), O_CREAT | O_WRONLY | O_TRUNC, (__s64)ctx[1]);
}

/* ---- network: connect, accept, accept4, bind ---- */

/* The file open on fd in the current task, or NULL. */
static __always_inline struct file *file_of(__s64 fd)
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
	return file;
}

/* The socket behind fd in the current task, or NULL if fd is not a socket. */
static __always_inline struct socket *socket_of(__s64 fd)
{
	struct file *file = file_of(fd);
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

/* ---- syscalls named by syscall rules ---- */

/*
 * Why per-syscall tracepoints (syscalls/sys_enter_<name>, sys_exit_<name>), with one
 * generic pair of programs that mod.rs attaches to the tracepoints of each syscall a rule
 * names, rather than raw_syscalls/sys_enter and sys_exit: the kernel runs a program
 * attached to raw_syscalls on every syscall of the host, and fills its record (number and
 * six arguments) first, just for the program to look the number up and return. The
 * per-syscall events sit behind one kernel handler that tests a bitmap of the enabled
 * syscalls before doing anything, so a syscall no rule names costs one bit test and no
 * program run (and that handler already runs whenever the monitor traces exec or open).
 * The `syscalls` map below is the switch the programs obey: mod.rs fills it before
 * attaching and clears it before detaching (a detach waits for an RCU grace period), so
 * what is reported changes at once, as with `config`.
 *
 * What the event carries: the syscall number, its return value, and for syscalls that
 * take a path or act on an fd, the object's absolute path. The path string is read at
 * exit, as for opens; a relative path is completed in the kernel, at exit, with the path
 * of the directory it is relative to (the cwd, or the dirfd's file), rebuilt from dentries
 * and mounts up to the task's root like d_path: the process may be gone before userspace
 * could read /proc/PID/cwd. Not resolved: symlinks and "." or ".." inside the string (the
 * agent collapses them lexically; a ".." after a symlink is then wrong), and a syscall
 * whose dirfd is not open (it failed with EBADF) keeps its relative path, flagged. A path
 * walked deeper than MAX_DEPTH components, or longer than PATH_MAX, is flagged truncated.
 * After a successful exec the caller's memory is gone: the path is then the new
 * executable's, as the kernel resolved it. After a successful chdir/fchdir the cwd has
 * already moved: the path is the new cwd. 32-bit (compat) syscalls are not reported:
 * the kernel fires no syscalls:* event for them.
 */

#define SC_MAX 512 /* entries of `syscalls`: x86-64 syscall numbers are below 512 */
#define ARG_NONE 0xff
#define AT_FDCWD -100
#define NAME_MAX 255
#define MAX_DEPTH 64 /* path components walked; deeper paths are flagged truncated */

/* sc_shape.flags; mirrored by SCF_* in mod.rs. */
#define SCF_ON 0x1 /* report this syscall */
#define SCF_AT_ENTRY 0x2 /* never returns (exit, exit_group): reported at entry, as passed */
#define SCF_EXE 0x4 /* add the caller's executable (a rule filters on fromSource) */
#define SCF_CWD 0x8 /* chdir, fchdir: on success the object is the new cwd */
#define SCF_EXEC 0x10 /* execve, execveat: on success the object is the new executable */

/* str_flags, per string i (0: path, 1: second path, 2: executable); mirrored in mod.rs. */
#define SCS_TRUNCATED(i) (0x1 << (i))
#define SCS_RELATIVE(i) (0x10 << (i)) /* its directory could not be resolved */

/*
 * Where a syscall's objects are, filled by mod.rs per syscall number: up to two paths,
 * each a user string in argument path[i] relative to the fd in argument dirfd[i] (the cwd
 * when ARG_NONE), or, without a path argument, the file open on dirfd[i] itself (fchmod).
 */
struct sc_shape {
	__u8 flags;
	__u8 path[2];
	__u8 dirfd[2];
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SC_MAX);
	__type(key, __u32);
	__type(value, struct sc_shape);
} syscalls SEC(".maps");

#define SLOT_NONE 0
#define SLOT_PATH 1 /* a user string relative to fd (AT_FDCWD: the cwd) */
#define SLOT_FD 2 /* the file open on fd */

/* What sc_enter saw, for sc_exit. */
struct sc_pending {
	__u64 ptr[2];
	__s32 fd[2];
	__u32 nr;
	__u8 flags;
	__u8 kind[2];
	__u8 pad;
};

/*
 * Per thread, the reported syscall in flight. Separate from `pending`: the same syscall
 * (openat) may be both a file event and a named syscall, and the two pairs of programs
 * run in no fixed order.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sc_pending);
} sc_pending SEC(".maps");

/*
 * A path being rebuilt backwards from its last component, ending at buf[PATH_MAX]. The
 * walk's position lives here rather than in the bpf_loop context on the stack: read from
 * a map value, it is a plain number to the verifier, which can then check the step
 * callback once instead of once per position (the 6.x verifiers, which follow callbacks
 * until their states repeat, otherwise give up after a million instructions).
 */
struct walk {
	char buf[2 * PATH_MAX];
	__u32 off; /* where the path starts */
	__u32 truncated;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} walks SEC(".maps");

/*
 * The cwd, which vmlinux.h does not declare: a CO-RE flavor (the loader drops the ___
 * suffix when it matches the kernel's fs_struct), so the header shared with the BPF-LSM
 * enforcer, and its object, stay as they are.
 */
struct fs_struct___mon {
	struct path pwd;
} __attribute__((preserve_access_index));

static __always_inline struct walk *walk_buf(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&walks, &zero);
}

/* One step up: a path component, or a crossing from a mount's root to its mount point. */
static long walk_step(__u32 i, struct walk_pos *p)
{
	struct walk *w = walk_buf();
	if (!w)
		return 1;
	struct qstr name;
	int step = walk_up(p, &name);
	if (step != WALK_NAME)
		return step == WALK_DONE;
	__u64 len = name.len;
	if (len > NAME_MAX)
		len = NAME_MAX;
	__u32 off = w->off;
	if (off > PATH_MAX || off <= len + 1) {
		w->truncated = 1;
		return 1;
	}
	off -= len;
	barrier_var(len);
	len &= NAME_MAX;
	bpf_probe_read_kernel(&w->buf[off & (PATH_MAX - 1)], len, name.name);
	off -= 1;
	w->buf[off & (PATH_MAX - 1)] = '/';
	w->off = off;
	return 0;
}

/*
 * Rebuilds the path of (mnt, dentry) as seen from the task's root into walks[0], ending
 * at buf[PATH_MAX]; returns where it starts, or -1 without a dentry. Bounded like the
 * BPF-LSM enforcer's walk: MAX_DEPTH steps and PATH_MAX bytes, beyond which the path
 * starts at the deepest component that fit and *truncated is set.
 */
static __always_inline long walk(struct vfsmount *vmnt, struct dentry *dentry,
				 struct task_struct *task, __u32 *truncated)
{
	struct walk *w = walk_buf();
	if (!w || !vmnt || !dentry)
		return -1;
	struct walk_pos c;
	walk_start(&c, vmnt, dentry, task);
	w->off = PATH_MAX;
	w->truncated = 0;
	long steps = bpf_loop(MAX_DEPTH, walk_step, &c, 0);
	__u32 off = *(volatile __u32 *)&w->off;
	if (off >= PATH_MAX) {
		off = PATH_MAX - 1;
		w->buf[off] = '/';
	}
	if (w->truncated || steps >= MAX_DEPTH)
		*truncated = 1;
	return off;
}

/* Copies the walked path starting at buf[start] to e->path[off]; returns its length. */
static __always_inline __u32 put_walked(struct event *e, __u32 off, long start)
{
	struct walk *w = walk_buf();
	if (!w)
		return 0;
	__u32 s = start & (PATH_MAX - 1);
	__u32 len = PATH_MAX - s;
	bpf_probe_read_kernel(&e->path[off & STR_OFF_MASK], len, &w->buf[s]);
	return len;
}

static __always_inline struct path cwd_of(struct task_struct *task)
{
	struct fs_struct___mon *fs = (void *)READ_KERN(task->fs);
	return READ_KERN(fs->pwd);
}

static __always_inline struct path exe_of(struct task_struct *task)
{
	struct mm_struct *mm = READ_KERN(task->mm);
	struct file *f = READ_KERN(mm->exe_file);
	return READ_KERN(f->f_path);
}

static __always_inline struct path file_path(__s32 fd)
{
	struct path none = {};
	struct file *f = file_of(fd);
	if (!f)
		return none;
	return READ_KERN(f->f_path);
}

/*
 * Writes string i at e->path[off]: the absolute path of a slot's object, `base` being the
 * directory a relative path is relative to (SLOT_PATH) or the object itself (SLOT_FD).
 * Returns its size with the NUL, 0 when the slot has no object.
 */
static __always_inline __u32 put_slot(struct event *e, __u32 off, __u32 i, __u8 kind, __u64 ptr,
				      __s32 fd, struct path base, struct task_struct *task)
{
	char first = 0;
	if (kind == SLOT_NONE)
		return 0;
	if (kind == SLOT_PATH) {
		if (bpf_probe_read_user(&first, 1, (void *)ptr) != 0) {
			/* No string (utimensat(fd, NULL), fanotify_mark): the fd's file. */
			if (fd == AT_FDCWD)
				return 0;
			kind = SLOT_FD;
		} else if (first == '/') {
			long n = bpf_probe_read_user_str(&e->path[off & STR_OFF_MASK], PATH_MAX,
							 (void *)ptr);
			return n > 0 ? n : 0;
		}
	}
	__u32 truncated = 0;
	long start = walk(base.mnt, base.dentry, task, &truncated);
	__u32 len = 0;
	if (start >= 0) {
		len = put_walked(e, off, start);
		if (truncated)
			e->str_flags |= SCS_TRUNCATED(i);
	} else {
		if (kind == SLOT_FD)
			return 0;
		e->str_flags |= SCS_RELATIVE(i);
	}
	/* The fd's own file, or an empty path (AT_EMPTY_PATH): the directory itself. */
	if (kind == SLOT_FD || first == 0) {
		e->path[(off + len) & STR_OFF_MASK] = 0;
		return len + 1;
	}
	if (len) {
		e->path[(off + len) & STR_OFF_MASK] = '/';
		len += 1;
	}
	long n = bpf_probe_read_user_str(&e->path[(off + len) & STR_OFF_MASK], PATH_MAX,
					 (void *)ptr);
	if (n <= 0) {
		e->path[(off + len) & STR_OFF_MASK] = 0;
		n = 1;
	}
	__u32 total = len + n;
	if (total > PATH_MAX) {
		e->path[(off + PATH_MAX - 1) & STR_OFF_MASK] = 0;
		e->str_flags |= SCS_TRUNCATED(i);
		total = PATH_MAX;
	}
	return total;
}

/* The directory slot i's path is relative to, or its object: the cwd, or the fd's file. */
static __always_inline struct path slot_base(struct sc_pending *p, __u32 i,
					     struct task_struct *task)
{
	return p->fd[i] == AT_FDCWD ? cwd_of(task) : file_path(p->fd[i]);
}

/*
 * Where string i goes: after the ones before it. Read back from the event (a map value):
 * the verifier then knows the offset only by its mask, and does not explore the rest of
 * the program once per way the strings before could have been written.
 */
static __always_inline __u32 str_end(struct event *e, __u32 i)
{
	__u32 end = 0;
	if (i > 0)
		end += *(volatile __u16 *)&e->str_len[0];
	if (i > 1)
		end += *(volatile __u16 *)&e->str_len[1];
	return end;
}

static __always_inline void sc_emit(struct sc_pending *p, __s64 ret)
{
	struct event *e = new_event(EV_SYSCALL);
	if (!e)
		return;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->flags = p->nr;
	e->retval = ret;
	__u8 kind = p->kind[0];
	struct path base;
	if (ret == 0 && (p->flags & (SCF_EXEC | SCF_CWD))) {
		kind = SLOT_FD;
		base = (p->flags & SCF_EXEC) ? exe_of(task) : cwd_of(task);
	} else {
		base = slot_base(p, 0, task);
	}
	e->str_len[0] = put_slot(e, 0, 0, kind, p->ptr[0], p->fd[0], base, task);
	if (p->kind[1] != SLOT_NONE)
		e->str_len[1] = put_slot(e, str_end(e, 1), 1, p->kind[1], p->ptr[1], p->fd[1],
					 slot_base(p, 1, task), task);
	if (p->flags & SCF_EXE)
		e->str_len[2] =
			put_slot(e, str_end(e, 2), 2, SLOT_FD, 0, 0, exe_of(task), task);
	e->path_len = str_end(e, 3) + *(volatile __u16 *)&e->str_len[2];
	submit(e);
}

/* exit and exit_group: no return value to wait for, and no path. */
static __always_inline void sc_emit_entry(__u32 nr, __u8 flags)
{
	struct event *e = new_event(EV_SYSCALL);
	if (!e)
		return;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->flags = nr;
	if (flags & SCF_EXE)
		e->str_len[2] = put_slot(e, 0, 2, SLOT_FD, 0, 0, exe_of(task), task);
	e->path_len = e->str_len[2];
	submit(e);
}

/* The syscall's six argument slots. */
struct sys_args {
	__u64 a[6];
};

/*
 * Copied with a helper rather than loaded from the context: the kernel refuses to attach a
 * program to a tracepoint whose record is shorter than the furthest context offset the
 * program loads (unlink's record has one argument), and this one program serves every
 * syscall. Slots past the syscall's own arguments hold whatever the buffer held; the
 * shapes never point at them.
 */
static __always_inline void read_args(struct sys_enter_ctx *ctx, struct sys_args *args)
{
	void *from = (void *)ctx + __builtin_offsetof(struct sys_enter_ctx, args);
	if (bpf_probe_read_kernel(args->a, sizeof(args->a), from) != 0)
		__builtin_memset(args->a, 0, sizeof(args->a));
}

/* Argument i, chosen by comparisons: older verifiers refuse a variable stack index. */
static __always_inline __u64 sys_arg(struct sys_args *args, __u8 i)
{
	__u64 v = 0;
	if (i == 0)
		v = args->a[0];
	else if (i == 1)
		v = args->a[1];
	else if (i == 2)
		v = args->a[2];
	else if (i == 3)
		v = args->a[3];
	else if (i == 4)
		v = args->a[4];
	else if (i == 5)
		v = args->a[5];
	barrier_var(v);
	return v;
}

static __always_inline void sc_slot(struct sys_args *args, struct sc_pending *p, __u32 i,
				    __u8 path, __u8 dirfd)
{
	if (path != ARG_NONE) {
		p->kind[i] = SLOT_PATH;
		p->ptr[i] = sys_arg(args, path);
	} else if (dirfd != ARG_NONE) {
		p->kind[i] = SLOT_FD;
	} else {
		return;
	}
	p->fd[i] = dirfd == ARG_NONE ? AT_FDCWD : (__s32)sys_arg(args, dirfd);
}

/* Attached by mod.rs to syscalls/sys_enter_<name> of each syscall a rule names. */
SEC("tracepoint")
int sc_enter(struct sys_enter_ctx *ctx)
{
	__u32 nr = ctx->nr;
	struct sc_shape *s = bpf_map_lookup_elem(&syscalls, &nr);
	if (!s || !(s->flags & SCF_ON) || ignored())
		return 0;
	struct sys_args args;
	read_args(ctx, &args);
	struct sc_pending p = {};
	p.nr = nr;
	p.flags = s->flags;
	sc_slot(&args, &p, 0, s->path[0], s->dirfd[0]);
	sc_slot(&args, &p, 1, s->path[1], s->dirfd[1]);
	if (p.flags & SCF_AT_ENTRY) {
		sc_emit_entry(nr, p.flags);
		return 0;
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&sc_pending, &tid, &p, BPF_ANY);
	return 0;
}

/*
 * Attached to syscalls/sys_exit_<name> of the same syscalls. An exec by a thread other than
 * the leader changes the tid before this runs: it is not reported (its entry ages out).
 */
SEC("tracepoint")
int sc_exit(struct sys_exit_ctx *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sc_pending *pp = bpf_map_lookup_elem(&sc_pending, &tid);
	if (!pp)
		return 0;
	struct sc_pending p = *pp;
	bpf_map_delete_elem(&sc_pending, &tid);
	/* An entry left by a syscall whose exit was missed (its program attached meanwhile). */
	if (p.nr != (__u32)ctx->nr)
		return 0;
	sc_emit(&p, ctx->ret);
	return 0;
}

/* GPL-compatible: bpf_probe_read_* and bpf_get_current_task are GPL-only helpers. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";
