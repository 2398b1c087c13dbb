// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * knoxctl's BPF-LSM enforcer: LSM programs that deny what the host's rules block, in the
 * kernel, before the operation happens. src/enforce/bpf_lsm.rs loads this object
 * (committed as lsm.bpf.o, rebuilt by scripts/build-bpf.sh), fills the rule maps from the
 * normalized rule set and pins everything in bpffs, so enforcement outlives the agent.
 *
 * Matching is done on the path the kernel resolved (the file the operation really acts
 * on), rebuilt by walking dentries and mounts up to the mount namespace's root (not the
 * task's: a chrooted process is matched on the real path): symlinks, `//`, `/./`,
 * relative names and chroot cannot dodge a rule. Hard links and bind mounts are caught
 * by a second lookup keyed by inode for exact-path rules.
 *
 * Rule maps (all keyed by a "scope" = target << 2 | kind, so the host and each
 * container have their own rules, and process and file rules never mix):
 * - `paths`, an LPM trie: exact paths are stored NUL-terminated, directories with their
 *   trailing '/'. One lookup of "path\0" yields the longest stored prefix; userspace
 *   merged into each entry every rule that applies below it, with a flag saying whether
 *   it applies to direct children, deeper descendants, or (exact entries) always.
 * - `inodes`: exact-path rules by (scope, device, inode).
 * - `ancestors`: Block and Audit rules by (scope, device, inode) of each protected
 *   directory and each ancestor of a protected path: renaming one, mounting on it or
 *   binding it elsewhere would give a protected path a name no rule covers (or hide it),
 *   without touching the path itself.
 * - `names`: execname rules by (scope, basename).
 * - `nets`, `caps`: protocol and capability rules.
 * - `sources`: fromSource sets, an LPM trie keyed like `paths` with the set id as scope.
 * - `glob_*`: matchPatterns, all of a scope's globs compiled into one DFA over bytes
 *   (bpf_lsm/glob.rs): one table row per state, one lookup per path byte.
 * Each matched entry carries up to MAX_SLOTS rules; the decision combines them as
 * src/policy/matcher.rs does (Block wins, readOnly/ownerOnly restrict, Audit only
 * reports, allow-list mode falls to the default posture).
 */
#include "vmlinux.h"
#include "helpers.h"
#include "walk.h"

/* The id of the current task's cgroup v2 (default hierarchy) ancestor at `level` (0: the
 * root); 0 when the task's cgroup is less deep (5.7). Only the enforcer uses it. */
static __u64 (*bpf_get_current_ancestor_cgroup_id)(int level) = (void *)123;

#define EACCES 13
#define EPERM 1

#define PATH_BUF 4096 /* the walked path, written backwards into a 2*PATH_BUF buffer */
#define NAME_MAX 255
#define MAX_DEPTH 64 /* components walked; deeper paths are reported as truncated */
#define KEY_PATH 252 /* LPM data is at most 256 bytes: 4 for the scope, 252 of path */
#define DIR_PATH 256 /* a knox_dir_ids path: compared 8 bytes at a time */
#define NAME_KEY 64
#define MAX_SLOTS 8
#define TASK_COMM_LEN 16

#define FMODE_WRITE 0x2
#define FMODE_EXEC 0x20
#define __FMODE_EXEC 0x20 /* the same bit in f_flags (open flags), octal 040 */
#define PROT_EXEC 0x4
#define BPF_NOEXIST 1 /* bpf_map_update_elem: only a missing key */

/* Rule kinds, the low two bits of a scope. */
#define KIND_PROCESS 0
#define KIND_FILE 1
#define KIND_NET 2
#define KIND_CAP 3

/* slot.flags */
#define SL_DENY 0x1 /* Block */
#define SL_ALLOW 0x2
#define SL_AUDIT 0x4
#define SL_READ_ONLY 0x8
#define SL_OWNER_ONLY 0x10
#define SL_ALWAYS 0x20 /* applies to the path looked up (exact entries) */
#define SL_CHILD 0x40 /* applies when the path is a direct child of the entry */
#define SL_DEEPER 0x80 /* applies when the path is further below */

/* target.flags */
#define T_PROCESS 0x1 /* some process rule exists */
#define T_FILE 0x2
#define T_NET 0x4
#define T_CAP 0x8
#define T_NAMES 0x10 /* some execname rule exists */
#define T_INODES 0x20 /* some exact-path rule has an inode entry */
#define T_APPLETS 0x40 /* some process rule names a symlink to a multi-call binary */
#define T_ALLOW_PROC 0x100 /* allow-list mode for process rules */
#define T_ALLOW_FILE 0x800 /* allow-list mode for file rules */
#define T_ALLOW_NET 0x200
#define T_ALLOW_CAP 0x400
#define T_BLOCK_PROC_FILE 0x1000 /* default posture block (else audit): the file posture */
#define T_BLOCK_NET 0x2000
#define T_BLOCK_CAP 0x4000
#define T_GLOB_PROC 0x8000 /* process matchPatterns exist: run the automaton */
#define T_GLOB_FILE 0x10000
#define T_CONTAINERS 0x20000 /* host entry only: container targets are in knox_cgroup_targets */
#define T_ANCESTORS 0x40000 /* some directory guards a protected path (knox_ancestors) */
#define T_DIR_IDS 0x80000 /* some directory rule's directory is known by inode (knox_dir_ids) */

/* Operations, in events; mirrored by `OP_*` in bpf_lsm.rs. */
#define OP_EXEC 1
#define OP_OPEN 2
#define OP_MMAP 3
#define OP_CREATE 4
#define OP_MKDIR 5
#define OP_UNLINK 6
#define OP_RMDIR 7
#define OP_RENAME 8
#define OP_LINK 9
#define OP_SYMLINK 10
#define OP_CHMOD 11
#define OP_CHOWN 12
#define OP_TRUNCATE 13
#define OP_SOCKET 14
#define OP_CONNECT 15
#define OP_ACCEPT 16
#define OP_CAPABLE 17
#define OP_MOUNT 18

/* Verdicts, in events. */
#define V_DENY 1 /* denied by a rule (rule set) or by the default posture (rule 0) */
#define V_AUDIT 2 /* allowed; an Audit rule matched */
#define V_POSTURE_AUDIT 3 /* allowed; allow-list mode and no rule allowed it */
#define V_AUDIT_BLOCK 4 /* allowed (not refused by design); a Block rule's object was touched */

/* Network protocol codes, `nets` keys; mirrored by `proto_code` in bpf_lsm.rs. */
#define P_TCP 1
#define P_UDP 2
#define P_ICMP 3
#define P_ICMPV6 4
#define P_RAW 5
#define P_SCTP 6
#define P_STREAM 7
#define P_DGRAM 8
#define P_RDM 9
#define P_SEQPACKET 10
#define P_DCCP 11
#define P_PACKET 12
#define P_ALL 13

#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define SOCK_RDM 4
#define SOCK_SEQPACKET 5
#define SOCK_TYPE_MASK 0xf
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_DCCP 33
#define IPPROTO_ICMPV6 58
#define IPPROTO_SCTP 132

#define CAP_OPT_NOAUDIT 0x2

#define MS_REMOUNT 32
#define MS_UNBINDABLE (1 << 17)
#define MS_PRIVATE (1 << 18)
#define MS_SLAVE (1 << 19)
#define MS_SHARED (1 << 20)

struct slot {
	__u32 rule; /* index in the rule set, its generation's low bits above (bpf_lsm::tagged) */
	__u16 flags; /* SL_* */
	__u16 src_set; /* fromSource set id, 0 = any source */
};

struct rules {
	__u32 len; /* bytes of the entry's path (prefix), for SL_CHILD/SL_DEEPER */
	__u32 nslots;
	struct slot slots[MAX_SLOTS];
};

struct path_key {
	__u32 prefixlen; /* bits, counting the scope */
	__u32 scope;
	char path[KEY_PATH];
};

struct inode_key {
	__u32 scope;
	__u32 dev;
	__u64 ino;
};

struct inode_rules {
	__u32 generation;
	__u32 check_generation;
	struct rules rules;
};

/*
 * A directory that directory rules name, by (target << 2, device, inode): the walk checks
 * each directory it passes against these, so a file reached through a bind mount of the
 * directory or of an ancestor (in any mount namespace) is also decided on the name the
 * rules know, its protected name: `path` followed by what the walk found below it.
 */
struct dir_id {
	__u32 generation;
	__u32 check_generation;
	__u32 kinds; /* 1 << KIND_* of the directory rules naming it */
	__u32 len; /* bytes of path (no trailing '/') */
	__u32 parent_len; /* bytes of path up to and including its last '/' */
	__u32 mount_rule; /* rule + 1 reported for a mount on or inside it; 0: none */
	__u32 mount_flags; /* that rule's SL_DENY or SL_AUDIT */
	char path[DIR_PATH]; /* at most KEY_PATH - 1 bytes, zero-padded */
};

struct name_key {
	__u32 scope;
	char name[NAME_KEY];
};

struct num_key {
	__u32 scope;
	__u32 num; /* protocol code or capability number */
};

struct target {
	__u32 flags; /* T_* */
	__u32 generation; /* bumped by every apply; echoed in events */
};

struct config {
	__u32 agent_tgid; /* exempt: the agent itself (with its start time: pids are reused) */
	__u32 ns_per_tick; /* 1e9 / USER_HZ: agent_start is in /proc/PID/stat's clock ticks */
	__u64 agent_start;
};

/*
 * The miss cache's key and epoch (see the cache below): globals, not map entries, so the
 * hot path reads them with one load each instead of a lookup. They belong to one loaded
 * copy of the programs, as the cache does: a restarted agent that adopts the pinned
 * programs keeps theirs. The seed is set by the loader (random per load), the epoch is
 * bumped by renames, unlinks and mounts.
 */
const volatile __u64 knox_seed = 0;
__u32 knox_epoch = 0;
/* The initial mount namespace's inode (/proc/1/ns/mnt), set by the loader; 0: unknown.
 * Mounts over protected directories and their ancestors are refused only there (see
 * mount_check). */
const volatile __u32 knox_init_mnt_ns = 0;

/* An event; the header is EVENT_HDR bytes, then path_len bytes of path. */
struct event {
	__u64 ts_ns;
	__u32 tgid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 rule; /* the slot's rule + 1; 0: the default posture */
	__u32 generation;
	__u32 target;
	__u32 arg; /* open flags, mmap prot, capability, (family << 16 | type) */
	__u32 arg2; /* socket protocol */
	__u8 op;
	__u8 verdict;
	__u16 path_len; /* bytes of path, without NUL */
	char comm[TASK_COMM_LEN];
	/* Container targets only (0 for the host's): the pids the task's own pid namespace
	 * gives it and its parent (0 when the parent is outside that namespace), read here
	 * because a denied process has often exited before the agent reads the event. */
	__u32 ns_tgid;
	__u32 ns_ppid;
	/* The path; when the decision was made on its protected name, a NUL and that name
	 * follow (path_len counts both). */
	char path[2 * PATH_BUF];
};
#define EVENT_HDR __builtin_offsetof(struct event, path)
_Static_assert(EVENT_HDR == 72, "struct event header layout is part of the ABI");

/* The path walked for an operation: written backwards, so `off` is where it starts. */
struct walk {
	__u32 off;
	__u32 len;
	__u32 parent_len; /* bytes up to and including the last '/' */
	__u32 truncated;
	/* A directory of knox_dir_ids was passed: its key, and where the part of the path
	 * below it begins in buf (hit_off == PATH_BUF: the path is that directory). */
	__u32 hit;
	__u32 hit_off;
	__u32 hit_dev;
	__u32 prot; /* the decision was made on the protected name (walks[2]): report it */
	__u32 hit_scope;
	__u32 pad;
	__u64 hit_ino;
	char buf[2 * PATH_BUF];
};

/* ---- maps; all pinned by name, so a restarted agent finds the live rules ---- */

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct path_key);
	__type(value, struct rules);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct path_key);
	__type(value, struct rules);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct inode_key);
	__type(value, struct inode_rules);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_inodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct inode_key);
	__type(value, struct inode_rules);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_ancestors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct inode_key);
	__type(value, struct dir_id);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_dir_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct name_key);
	__type(value, struct rules);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct num_key);
	__type(value, struct rules);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_nums SEC(".maps");

/* Rules on a symlink to a multi-call binary (`/usr/bin/wget` → busybox): (scope, the
 * binary's device and inode, the applet name). */
struct applet_key {
	__u32 scope;
	__u32 dev;
	__u64 ino;
	char name[NAME_KEY];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct applet_key);
	__type(value, struct rules);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_applets SEC(".maps");

/*
 * Target id by cgroup v2 id (the inode of the container's cgroup directory in the default
 * hierarchy). A task belongs to a container when its cgroup is the container's or below
 * it: namespaces do not matter (`unshare -m -p` cannot leave the rules, and a container
 * that reuses a removed one's namespace inodes inherits nothing), and a sub-cgroup the
 * container makes is still inside. Moving out of the cgroup needs write access to the
 * cgroup file system above the container. Everything not listed is the host (target 0).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_cgroup_targets SEC(".maps");

/* Levels of the cgroup tree looked at for a registered container, from the top:
 * podman's `/libpod_parent/libpod-<id>` is at 2, systemd's
 * `/system.slice/docker-<id>.scope` at 2, rootless podman's under user@.service at 5-6;
 * a container's own sub-cgroups are deeper, and are found through their ancestor. */
#define CGROUP_LEVELS 8 /* container_lsm.rs routes deeper containers to fanotify */

/*
 * The answer of the cgroup walk below, by the task's own (leaf) cgroup id: its target
 * (0: the host) and the containers epoch it was found in. An answer is good only while
 * `stamp` equals knox_cgroup_epoch[0], which the agent bumps after every change of
 * knox_cgroup_targets (containers.rs): an id added there voids the cached host answers of
 * the cgroups below it, a removed one its processes' cached target. The epoch is read
 * before the walk, so an answer found while the agent was changing the map carries the
 * old epoch. A task that moves gets another leaf id; a cgroup id is not reused. Both maps
 * are pinned: a program adopted by a restarted agent (attach_all) reads the epoch the new
 * agent bumps.
 *
 * A hash map's element can be recycled for another key while a program still reads it
 * (an update replaces the element; eviction reuses one). So an answer that went stale is
 * rewritten in place (one 64-bit store) and only a missing key is inserted (BPF_NOEXIST):
 * an element is recycled only by eviction, when more leaf cgroups than max_entries are
 * busy. The value repeats its key and the answer is one 64-bit load: an element that
 * visibly changed hands reads as a miss.
 */
struct cgroup_hit {
	__u64 cgroup; /* the key again */
	__u64 answer; /* stamp << 32 | target */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct cgroup_hit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_cgroup_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_cgroup_epoch SEC(".maps");

/* An array, not a hash: the verifier inlines array lookups, and every hook starts here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct target);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_events SEC(".maps");

/* Decisions not reported because the ring was full (the agent was down or slow). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_lost SEC(".maps");

/* Scratch space, too big for the 512-byte stack: [0] the operation's path, [1] the
 * task's executable (for fromSource), [2] the operation's protected name. */
#define WALK_PROTECTED 2
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct walk);
} knox_walks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} knox_event_buf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_key);
} knox_key_buf SEC(".maps");

/* ---- the acting task ---- */

/* Scalars only: it is copied into bpf_loop contexts. */
struct subject {
	struct task_struct *task;
	__u32 target;
	__u32 tflags; /* the target's T_* flags */
	__u32 generation;
	int exe_state; /* 0: not walked yet, 1: walked into walks[1], -1: unavailable */
	__u64 seed; /* the miss cache's key */
	__u32 epoch; /* the epoch when the operation began */
	__u32 pad;
};

/*
 * The target of the current task's cgroup (0: the host), through knox_cgroup_cache.
 * A subprogram, not inlined: its stack is not added to every hook's, whose deepest call
 * chains (bpf_loop callbacks) are near the verifier's 512 bytes.
 */
static __attribute__((noinline)) __u32 cgroup_target(void)
{
	__u32 zero = 0;
	__u32 target = 0;
	__u32 *ep = bpf_map_lookup_elem(&knox_cgroup_epoch, &zero);
	if (!ep)
		return 0;
	/* Read before the walk: see knox_cgroup_cache. */
	__u32 epoch = *(volatile __u32 *)ep;
	__u64 leaf = bpf_get_current_cgroup_id();
	struct cgroup_hit *hit = bpf_map_lookup_elem(&knox_cgroup_cache, &leaf);
	__u64 answer = hit ? *(volatile __u64 *)&hit->answer : 0;
	if (hit && (__u32)(answer >> 32) == epoch && *(volatile __u64 *)&hit->cgroup == leaf)
		return (__u32)answer;
	/* Outermost first: a container's processes cannot make a sub-cgroup that names
	 * another target. Unrolled: eight helper calls and hash lookups at most, and a host
	 * task in a shallow cgroup stops at the first level it does not have. */
#pragma unroll
	for (int level = 1; level <= CGROUP_LEVELS; level++) {
		__u64 cg = bpf_get_current_ancestor_cgroup_id(level);
		if (!cg)
			break;
		__u32 *id = bpf_map_lookup_elem(&knox_cgroup_targets, &cg);
		if (id && *id) {
			target = *id;
			break;
		}
	}
	answer = ((__u64)epoch << 32) | target;
	if (hit) {
		if (*(volatile __u64 *)&hit->cgroup == leaf)
			*(volatile __u64 *)&hit->answer = answer;
	} else if (leaf) { /* 0: no cgroup v2, nothing to key it by */
		struct cgroup_hit v = { .cgroup = leaf, .answer = answer };
		bpf_map_update_elem(&knox_cgroup_cache, &leaf, &v, BPF_NOEXIST);
	}
	return target;
}

/*
 * The acting task, its target and that target's rules. Returns false when the target has
 * no rules. Does not check whether the task is the agent: the miss cache is consulted
 * first (a hit allows, as the exemption would), then subject_exempt().
 */
static __always_inline bool subject_begin(struct subject *s)
{
	__u32 zero = 0;
	/* A BTF pointer: the hot path reads through it with plain loads, no helper calls. */
	struct task_struct *task = bpf_get_current_task_btf();
	/* The host's entry first: with no container registered it is the only lookup. */
	s->target = 0;
	struct target *t = bpf_map_lookup_elem(&knox_targets, &zero);
	if (!t)
		return false;
	if (t->flags & T_CONTAINERS) {
		s->target = cgroup_target();
		if (s->target) {
			t = bpf_map_lookup_elem(&knox_targets, &s->target);
			if (!t)
				return false;
		}
	}
	if (!(t->flags & ~T_CONTAINERS))
		return false;
	s->tflags = t->flags;
	s->generation = t->generation;
	s->task = task;
	s->exe_state = 0;
	s->seed = knox_seed;
	/* Read before any evaluation: a change during it leaves a stale cache tag. */
	s->epoch = *(volatile __u32 *)&knox_epoch;
	return true;
}

/* Whether the task is the agent itself (by tgid and start time: pids are reused). */
static __always_inline bool subject_exempt(struct subject *s)
{
	__u32 zero = 0;
	struct task_struct *task = s->task;
	struct config *c = bpf_map_lookup_elem(&knox_config, &zero);
	return c && c->agent_tgid == task->tgid && c->ns_per_tick &&
	       task->group_leader->start_boottime / c->ns_per_tick == c->agent_start;
}

/* Returns false when the task is exempt or its target has no rules. */
static __always_inline bool subject_init(struct subject *s)
{
	return subject_begin(s) && !subject_exempt(s);
}

static __always_inline __u32 scope_of(struct subject *s, __u32 kind)
{
	return (s->target << 2) | kind;
}

/* ---- path walking ---- */

static __always_inline struct walk *walk_buf(__u32 i)
{
	return bpf_map_lookup_elem(&knox_walks, &i);
}

/* The walk's state between bpf_loop iterations. */
struct walk_ctx {
	struct walk_pos pos;
	__u32 idx; /* which walks[] buffer */
	__u32 off;
	__u32 last;
	__u32 first;
	__u32 truncated;
	/* Whether to check each dentry against knox_dir_ids: 0 no, else the target's scope
	 * (kind bits 0) + 1. The kinds whose directories count: dir_kinds (1 << KIND_*). */
	__u32 dir;
	__u32 dir_kinds;
};

/* The knox_dir_ids key being looked up (the walk's callback frame has little stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inode_key);
} knox_dir_key SEC(".maps");

/* Whether the dentry the walk stands on is a directory of knox_dir_ids; the first one
 * found (the deepest) is kept in `w`. */
static __always_inline void walk_check_dir(struct walk_ctx *c, struct walk *w)
{
	__u32 zero = 0;
	struct inode_key *k = bpf_map_lookup_elem(&knox_dir_key, &zero);
	struct dentry *dentry = (struct dentry *)c->pos.dentry;
	struct inode *inode = READ_KERN(dentry->d_inode);
	if (!k || !inode)
		return;
	struct super_block *sb = READ_KERN(inode->i_sb);
	k->scope = c->dir - 1;
	k->dev = READ_KERN(sb->s_dev);
	k->ino = READ_KERN(inode->i_ino);
	struct dir_id *di = bpf_map_lookup_elem(&knox_dir_ids, k);
	if (!di || !(di->kinds & c->dir_kinds) ||
	    (di->check_generation && di->generation != READ_KERN(inode->i_generation)))
		return;
	w->hit = 1;
	w->hit_scope = k->scope;
	w->hit_off = c->off;
	w->hit_dev = k->dev;
	w->hit_ino = k->ino;
}

/* One step up: a path component, or a crossing from a mount's root to its mount point. */
static long walk_step(__u32 i, struct walk_ctx *c)
{
	struct walk *w = walk_buf(c->idx);
	if (!w)
		return 1;
	if (c->dir && !w->hit)
		walk_check_dir(c, w);
	struct qstr name;
	int step = walk_up(&c->pos, &name);
	if (step != WALK_NAME)
		return step == WALK_DONE;
	__u64 len = name.len;
	if (len > NAME_MAX)
		len = NAME_MAX;
	__u32 off = c->off;
	if (off <= len + 1) {
		c->truncated = 1;
		return 1;
	}
	off -= len;
	barrier_var(len);
	len &= NAME_MAX;
	bpf_probe_read_kernel(&w->buf[off & (PATH_BUF - 1)], len, name.name);
	off -= 1;
	w->buf[off & (PATH_BUF - 1)] = '/';
	c->off = off;
	if (c->first) {
		c->last = len;
		c->first = 0;
	}
	return 0;
}

/*
 * Writes the path of (mnt, dentry) as seen from the mount namespace's root into
 * walks[idx], like d_absolute_path but bounded: at most MAX_DEPTH steps and PATH_BUF bytes (beyond: truncated,
 * and the path starts at the deepest component that fit).
 */
static __always_inline struct walk *walk_path(__u32 idx, struct vfsmount *vmnt,
					      struct dentry *dentry, struct task_struct *task,
					      __u32 dir, __u32 dir_kinds)
{
	struct walk *w = walk_buf(idx);
	if (!w)
		return 0;
	struct walk_ctx c = {
		.idx = idx,
		.off = PATH_BUF,
		.first = 1,
		.dir = dir,
		.dir_kinds = dir_kinds,
	};
	w->hit = 0;
	walk_start(&c.pos, vmnt, dentry, task);
	/* Rules name paths from the namespace's root: a chroot must not shorten them (the
	 * walk then ends at the top of the mount tree, which is the namespace's root). */
	c.pos.root_dentry = 0;
	c.pos.root_mnt = 0;
	long steps = bpf_loop(MAX_DEPTH, walk_step, &c, 0);
	__u32 off = c.off;
	if (off == PATH_BUF) {
		off -= 1;
		w->buf[off & (PATH_BUF - 1)] = '/';
	}
	w->truncated = c.truncated || steps >= MAX_DEPTH;
	w->off = off;
	w->len = PATH_BUF - off;
	w->parent_len = w->len - c.last;
	w->prot = 0;
	return w;
}

/* Whether a walk checks knox_dir_ids, and under which scope (see walk_ctx.dir). */
static __always_inline __u32 dir_scope(struct subject *s)
{
	return (s->tflags & T_DIR_IDS) ? (s->target << 2) + 1 : 0;
}

static __always_inline struct walk *walk_file(__u32 i, struct file *file,
					      struct subject *s, __u32 kind)
{
	if (!file)
		return 0;
	struct vfsmount *mnt = READ_KERN(file->f_path.mnt);
	struct dentry *d = READ_KERN(file->f_path.dentry);
	return walk_path(i, mnt, d, s->task, dir_scope(s), 1 << kind);
}

static __always_inline struct walk *walk_dentry(__u32 i, struct path *dir,
						struct dentry *d, struct subject *s,
						__u32 kinds)
{
	if (!dir)
		return 0;
	struct vfsmount *mnt = READ_KERN(dir->mnt);
	return walk_path(i, mnt, d, s->task, kinds ? dir_scope(s) : 0, kinds);
}

/*
 * The protected name of walks[0]'s path `w`, in walks[2]: the path of the knox_dir_ids
 * directory the walk passed, then the part of `w` below it. Null when the walk passed
 * none (or the name would not fit).
 */
static __always_inline struct walk *protected_walk(struct walk *w)
{
	if (!w->hit)
		return 0;
	__u32 zero = 0;
	struct inode_key *k = bpf_map_lookup_elem(&knox_dir_key, &zero);
	if (!k)
		return 0;
	k->scope = w->hit_scope;
	k->dev = w->hit_dev;
	k->ino = w->hit_ino;
	struct dir_id *di = bpf_map_lookup_elem(&knox_dir_ids, k);
	struct walk *p = walk_buf(WALK_PROTECTED);
	if (!di || !p)
		return 0;
	__u32 dlen = di->len;
	__u32 hit_off = w->hit_off;
	if (dlen == 0 || dlen > KEY_PATH - 1 || hit_off > PATH_BUF || hit_off < w->off)
		return 0;
	__u32 below = PATH_BUF - hit_off; /* bytes of the part below the directory */
	/* Built even when `w` already is that name (the usual case, the directory's own
	 * path): comparing costs as much as the lookup, and an identical name cannot decide
	 * anything stricter, so it never changes the decision or the report. */
	if (dlen + below > PATH_BUF - 1)
		return 0;
	__u32 off = PATH_BUF - below - dlen;
	if (below) {
		/* clang knows hit_off < PATH_BUF here and drops the masks; the verifier needs
		 * them (it saw an unbounded offset once subject_begin grew). */
		__u64 dst = PATH_BUF - below, src = hit_off;
		barrier_var(dst);
		barrier_var(src);
		bpf_probe_read_kernel(&p->buf[dst & (PATH_BUF - 1)], below & (PATH_BUF - 1),
				      &w->buf[src & (PATH_BUF - 1)]);
	}
	bpf_probe_read_kernel(&p->buf[off & (PATH_BUF - 1)], dlen & 0xff, di->path);
	p->off = off;
	p->len = PATH_BUF - off;
	/* The last component is in the part below, or (none below) the directory's own. */
	p->parent_len = below ? p->len - (w->len - w->parent_len) : di->parent_len;
	p->truncated = 0;
	p->hit = 0;
	p->prot = 0;
	return p;
}

/* ---- lookup keys ---- */

/* Lookup keys live here, not on the 512-byte stack that three call frames share. */
struct keys {
	struct name_key nk;
	struct applet_key ak;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keys);
} knox_keys SEC(".maps");

static __always_inline struct keys *keys_buf(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&knox_keys, &zero);
}

/* ---- rule lookups ---- */

/* LPM lookup of the walked path (NUL-terminated) in `trie` under `scope`. */
static __always_inline struct rules *lookup_path(void *trie, __u32 scope, struct walk *w)
{
	__u32 zero = 0;
	struct path_key *k = bpf_map_lookup_elem(&knox_key_buf, &zero);
	if (!k)
		return 0;
	__u32 len = w->len;
	if (len > KEY_PATH - 1)
		len = KEY_PATH - 1; /* longer paths can still match directory prefixes */
	k->scope = scope;
	bpf_probe_read_kernel(k->path, len & 0xff, &w->buf[w->off & (PATH_BUF - 1)]);
	k->path[len & 0xff] = 0;
	/* The NUL counts only when the whole path fit: then exact entries can match. */
	__u32 bytes = w->len <= KEY_PATH - 1 ? len + 1 : len;
	k->prefixlen = 32 + 8 * bytes;
	return bpf_map_lookup_elem(trie, k);
}

/* Whether the task's executable is in fromSource set `set`. */
static __always_inline bool source_in(struct subject *s, __u16 set)
{
	struct walk *w = walk_buf(1);
	if (!w)
		return false;
	if (s->exe_state == 0) {
		/* READ_KERN takes kernel types only: a local struct in the access path would be
		 * relocated against the kernel's BTF too, and fail. */
		struct task_struct *task = s->task;
		struct mm_struct *mm = READ_KERN(task->mm);
		struct file *exe = mm ? READ_KERN(mm->exe_file) : 0;
		if (!exe) {
			s->exe_state = -1;
		} else {
			struct vfsmount *m = READ_KERN(exe->f_path.mnt);
			struct dentry *dentry = READ_KERN(exe->f_path.dentry);
			walk_path(1, m, dentry, s->task, 0, 0);
			s->exe_state = 1;
		}
	}
	if (s->exe_state < 0)
		return false;
	struct rules *r = lookup_path(&knox_sources, set, w);
	if (!r)
		return false;
	__u16 f = r->nslots ? r->slots[0].flags : 0;
	if (f & SL_ALWAYS)
		return true;
	if ((f & SL_CHILD) && w->parent_len == r->len)
		return true;
	return (f & SL_DEEPER) && w->parent_len > r->len;
}

struct decision {
	__u32 deny; /* rule + 1 */
	__u32 allow;
	__u32 audit;
	__u32 seen; /* some map entry matched (even if none of its rules applied) */
};

static __always_inline void note(__u32 *slot, __u32 rule)
{
	if (*slot == 0 || rule + 1 < *slot)
		*slot = rule + 1;
}

/* Per-CPU copy of the entry being evaluated, read by the bpf_loop callback. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rules);
} knox_rules_buf SEC(".maps");

struct eval_ctx {
	struct subject s;
	struct decision d;
	__u32 parent_len;
	__u32 owner;
	__u32 write;
};

/* One rule of the entry: does it apply, and what does it say. */
static long eval_slot(__u32 i, struct eval_ctx *c)
{
	__u32 zero = 0;
	struct rules *r = bpf_map_lookup_elem(&knox_rules_buf, &zero);
	if (!r || i >= r->nslots || i >= MAX_SLOTS)
		return 1;
	__u64 k = i;
	barrier_var(k); /* keep the mask: clang knows i < MAX_SLOTS, the verifier does not */
	k &= MAX_SLOTS - 1;
	struct slot sl = r->slots[k];
	bool applies = (sl.flags & SL_ALWAYS) ||
		       ((sl.flags & SL_CHILD) && c->parent_len == r->len) ||
		       ((sl.flags & SL_DEEPER) && c->parent_len != ~0U && c->parent_len > r->len);
	if (!applies)
		return 0;
	if (sl.src_set && !source_in(&c->s, sl.src_set))
		return 0;
	bool deny;
	if (sl.flags & SL_OWNER_ONLY)
		deny = (__u32)bpf_get_current_uid_gid() != c->owner ||
		       ((sl.flags & SL_READ_ONLY) && c->write);
	else if (sl.flags & SL_READ_ONLY)
		deny = c->write;
	else
		deny = !(sl.flags & SL_ALLOW);
	if (sl.flags & SL_AUDIT) {
		if (deny)
			note(&c->d.audit, sl.rule);
	} else if (deny) {
		/* An Allow rule whose readOnly/ownerOnly condition fails allows nothing: the
		 * operation gets the default posture, as in KubeArmor (matcher.rs agrees). */
		if (!(sl.flags & SL_ALLOW))
			note(&c->d.deny, sl.rule);
	} else {
		note(&c->d.allow, sl.rule);
	}
	return 0;
}

/*
 * Applies one matched entry's rules to the operation. `parent_len` is the operation
 * path's, or ~0 for entries that always apply (inode, name and number entries).
 */
static __always_inline void evaluate(struct decision *d, struct rules *r, __u32 parent_len,
				     bool write, __u32 owner, struct subject *s)
{
	__u32 zero = 0;
	struct rules *buf = bpf_map_lookup_elem(&knox_rules_buf, &zero);
	if (!r || !buf)
		return;
	d->seen = 1;
	__builtin_memcpy(buf, r, sizeof(*buf));
	struct eval_ctx c = {
		.s = *s,
		.d = *d,
		.parent_len = parent_len,
		.owner = owner,
		.write = write,
	};
	bpf_loop(MAX_SLOTS, eval_slot, &c, 0);
	*d = c.d;
	s->exe_state = c.s.exe_state;
}

/* ---- events ---- */

/* Pid namespace levels read for a container's pids: deeper nesting reports 0. */
#define PID_LEVELS 32

/* The kernel's pid structures as CO-RE flavors, relocated by their names without the
 * ___knox suffix (src/bpf/vmlinux.h has its own copies, which the monitor reads). */
struct upid___knox {
	int nr;
	void *ns;
} __attribute__((preserve_access_index));

struct pid___knox {
	unsigned int level;
	struct upid___knox numbers[1];
} __attribute__((preserve_access_index));

struct task_struct___knox {
	struct pid___knox *thread_pid;
} __attribute__((preserve_access_index));

static __always_inline struct pid___knox *leader_pid(struct task_struct *task)
{
	struct task_struct *leader = READ_KERN(task->group_leader);
	struct task_struct___knox *l = (void *)leader;
	return READ_KERN(l->thread_pid);
}

/* The number `task`'s thread group has in the pid namespace at `level`; 0 when it has
 * none there (it lives in a namespace above it). */
static __always_inline __u32 ns_tgid_at(struct task_struct *task, __u32 level)
{
	struct pid___knox *pid = leader_pid(task);
	if (!pid || level >= PID_LEVELS || READ_KERN(pid->level) < level)
		return 0;
	return READ_KERN(pid->numbers[level & (PID_LEVELS - 1)].nr);
}

static __always_inline void report(struct subject *s, __u8 op, __u8 verdict, __u32 rule,
				   struct walk *w, __u32 arg, __u32 arg2)
{
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&knox_event_buf, &zero);
	if (!e)
		return;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task = s->task;
	struct task_struct *parent = READ_KERN(task->real_parent);
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->tgid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = READ_KERN(parent->tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->rule = rule;
	e->generation = s->generation;
	e->target = s->target;
	e->arg = arg;
	e->arg2 = arg2;
	e->op = op;
	e->verdict = verdict;
	e->ns_tgid = 0;
	e->ns_ppid = 0;
	if (s->target) {
		struct pid___knox *pid = leader_pid(task);
		__u32 level = pid ? READ_KERN(pid->level) : 0;
		e->ns_tgid = ns_tgid_at(task, level);
		e->ns_ppid = ns_tgid_at(parent, level);
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__u32 len = 0;
	if (w) {
		len = w->len;
		if (len > PATH_BUF - 1)
			len = PATH_BUF - 1;
		bpf_probe_read_kernel(e->path, len & (PATH_BUF - 1),
				      &w->buf[w->off & (PATH_BUF - 1)]);
		struct walk *p = w->prot ? walk_buf(WALK_PROTECTED) : 0;
		if (p) {
			/* The protected name after a NUL (paths have none). */
			len &= PATH_BUF - 1;
			e->path[len] = 0;
			__u32 plen = p->len;
			if (plen > PATH_BUF - 1)
				plen = PATH_BUF - 1;
			bpf_probe_read_kernel(&e->path[len + 1], plen & (PATH_BUF - 1),
					      &p->buf[p->off & (PATH_BUF - 1)]);
			len += 1 + (plen & (PATH_BUF - 1));
		}
	}
	e->path_len = len;
	__u64 size = EVENT_HDR + (len & (2 * PATH_BUF - 1));
	if (bpf_ringbuf_output(&knox_events, e, size, 0) != 0) {
		__u64 *n = bpf_map_lookup_elem(&knox_lost, &zero);
		if (n)
			*n += 1;
	}
}

/*
 * Turns a combined decision into the hook's return value, reporting it. `allow_flag` and
 * `block_flag` are the target's allow-list and posture bits for the category; `errno` is
 * what a denied caller gets.
 */
static __always_inline int conclude(struct subject *s, struct decision *d, __u32 allow_flag,
				    __u32 block_flag, __u8 op, struct walk *w, __u32 arg,
				    __u32 arg2, int err, bool quiet)
{
	if (d->deny) {
		if (!quiet)
			report(s, op, V_DENY, d->deny, w, arg, arg2);
		return -err;
	}
	if (!d->allow && (s->tflags & allow_flag)) {
		if (s->tflags & block_flag) {
			if (!quiet)
				report(s, op, V_DENY, 0, w, arg, arg2);
			return -err;
		}
		if (!quiet)
			report(s, op, V_POSTURE_AUDIT, 0, w, arg, arg2);
		return 0;
	}
	if (d->audit && !quiet)
		report(s, op, V_AUDIT, d->audit, w, arg, arg2);
	return 0;
}

static __always_inline __u32 inode_owner(struct inode *inode)
{
	if (!inode)
		return 0;
	kuid_t uid = READ_KERN(inode->i_uid);
	return uid.val;
}

/* ---- matchPatterns ----
 *
 * A scope's DFA is `nstates` rows of `glob_rows` from `base`; bytes map to columns
 * through `classes`. State 0 is dead, 1 the start. The rows table has two halves: an
 * apply writes the half no scope points at, then replaces the scope entries (hash
 * updates are atomic), so a lookup never sees half-written rows.
 */
#define GLOB_CLASSES 64
#define GLOB_ROWS 8192

struct glob_scope {
	__u32 base;
	__u32 nstates;
	__u8 classes[256];
};

struct glob_row {
	__u16 next[GLOB_CLASSES];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct glob_scope);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_glob_scopes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GLOB_ROWS);
	__type(key, __u32);
	__type(value, struct glob_row);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_glob_rows SEC(".maps");

/* Rules of the accepting states, by base + state. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GLOB_ROWS);
	__type(key, __u32);
	__type(value, struct rules);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} knox_glob_accept SEC(".maps");

/* The scope entry being run, copied once: a per-CPU array lookup per byte is inlined,
 * a hash lookup is not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct glob_scope);
} knox_glob_buf SEC(".maps");

struct glob_ctx {
	__u32 idx; /* which walks[] buffer */
	__u32 state;
	__u32 base;
	__u32 nstates;
	__u32 off;
	__u32 len;
};

/* One byte of walks[idx]'s path through the automaton; stops when no pattern can match. */
static long glob_step(__u32 i, struct glob_ctx *c)
{
	__u32 zero = 0;
	struct walk *w = walk_buf(c->idx);
	struct glob_scope *g = bpf_map_lookup_elem(&knox_glob_buf, &zero);
	if (!w || !g || i >= c->len)
		return 1;
	__u8 b = w->buf[(c->off + i) & (PATH_BUF - 1)];
	__u32 row = c->base + c->state;
	struct glob_row *r = bpf_map_lookup_elem(&knox_glob_rows, &row);
	if (!r) {
		c->state = 0;
		return 1;
	}
	__u32 next = r->next[g->classes[b] & (GLOB_CLASSES - 1)];
	c->state = next < c->nstates ? next : 0;
	return c->state == 0;
}

/* Pattern rules of a kind matching walks[idx]'s path `w`. */
static __always_inline void match_glob(struct decision *d, struct subject *s, __u32 kind,
				       struct walk *w, __u32 idx, bool write, __u32 owner)
{
	__u32 flag = kind == KIND_PROCESS ? T_GLOB_PROC : T_GLOB_FILE;
	/* A truncated path lacks its beginning: no pattern can be matched against it. */
	if (!(s->tflags & flag) || w->truncated)
		return;
	__u32 zero = 0;
	__u32 scope = scope_of(s, kind);
	struct glob_scope *live = bpf_map_lookup_elem(&knox_glob_scopes, &scope);
	struct glob_scope *g = bpf_map_lookup_elem(&knox_glob_buf, &zero);
	if (!live || !g)
		return;
	__builtin_memcpy(g, live, sizeof(*g));
	struct glob_ctx c = {
		.idx = idx,
		.state = 1,
		.base = g->base,
		.nstates = g->nstates,
		.off = w->off,
		.len = w->len,
	};
	bpf_loop(PATH_BUF, glob_step, &c, 0);
	if (!c.state)
		return;
	__u32 key = c.base + c.state;
	evaluate(d, bpf_map_lookup_elem(&knox_glob_accept, &key), ~0U, write, owner, s);
}

/*
 * Rules that match the walked path `w` (walks[0]) of a kind (process or file), plus inode
 * rules. `inode` is null for a name not created yet. Below a directory that directory
 * rules name (knox_dir_ids), the rules follow the object: the path and pattern rules are
 * those of its protected name (protected_walk), whatever mount, bind mount or namespace
 * the path went through, and `w->prot` makes the event carry that name after the path the
 * process used. One name is evaluated, not both: each evaluation site is verified anew in
 * every hook, and the verifier's time is what the agent's start waits for.
 */
static __always_inline void match_path(struct decision *d, struct subject *s, __u32 kind,
				       struct walk *w, struct inode *inode, __u32 owner, bool write)
{
	__u32 scope = scope_of(s, kind);
	struct walk *m = w;
	__u32 idx = 0;
	if (w->hit) {
		/* A file below a protected directory is never a miss to remember. */
		d->seen = 1;
		struct walk *p = protected_walk(w);
		if (p) {
			m = p;
			idx = WALK_PROTECTED;
			w->prot = 1;
		}
	}
	evaluate(d, lookup_path(&knox_paths, scope, m), m->parent_len, write, owner, s);
	match_glob(d, s, kind, m, idx, write, owner);
	if (inode && (s->tflags & T_INODES)) {
		struct super_block *sb = READ_KERN(inode->i_sb);
		struct inode_key k = {
			.scope = scope,
			.dev = READ_KERN(sb->s_dev),
			.ino = READ_KERN(inode->i_ino),
		};
		struct inode_rules *ir = bpf_map_lookup_elem(&knox_inodes, &k);
		if (ir && (!ir->check_generation ||
			   ir->generation == READ_KERN(inode->i_generation)))
			evaluate(d, &ir->rules, ~0U, write, owner, s);
	}
}

/* Rules guarding `dentry` as a protected directory or an ancestor of a protected path;
 * all unconditional (userspace made each one a deny or an audit). */
static __always_inline void match_ancestor(struct decision *d, struct subject *s,
					   struct dentry *dentry)
{
	struct inode *inode = READ_KERN(dentry->d_inode);
	if (!inode || !(s->tflags & T_ANCESTORS))
		return;
	struct super_block *sb = READ_KERN(inode->i_sb);
	__u32 generation = READ_KERN(inode->i_generation);
	struct inode_key k = {
		.scope = scope_of(s, KIND_FILE),
		.dev = READ_KERN(sb->s_dev),
		.ino = READ_KERN(inode->i_ino),
	};
	struct inode_rules *ir = bpf_map_lookup_elem(&knox_ancestors, &k);
	if (ir && (!ir->check_generation || ir->generation == generation))
		evaluate(d, &ir->rules, ~0U, true, 0, s);
	k.scope = scope_of(s, KIND_PROCESS);
	ir = bpf_map_lookup_elem(&knox_ancestors, &k);
	if (ir && (!ir->check_generation || ir->generation == generation))
		evaluate(d, &ir->rules, ~0U, true, 0, s);
}

/* execname rules: the basename of the walked path. */
static __always_inline void match_name(struct decision *d, struct subject *s, struct walk *w,
				       __u32 owner)
{
	if (!(s->tflags & T_NAMES))
		return;
	struct keys *kb = keys_buf();
	if (!kb)
		return;
	struct name_key *k = &kb->nk;
	__builtin_memset(k, 0, sizeof(*k));
	k->scope = scope_of(s, KIND_PROCESS);
	__u64 n = w->len - w->parent_len;
	if (n == 0 || n > NAME_KEY - 1)
		return;
	barrier_var(n); /* else clang drops the mask, knowing n < NAME_KEY */
	n &= NAME_KEY - 1;
	bpf_probe_read_kernel(k->name, n, &w->buf[(w->off + w->parent_len) & (PATH_BUF - 1)]);
	evaluate(d, bpf_map_lookup_elem(&knox_names, k), ~0U, false, owner, s);
}

struct scan_ctx {
	__u32 len;
	__u32 parent_len;
};

/* Finds the last '/' of walks[1]'s string: parent_len is the index after it. */
static long last_slash(__u32 i, struct scan_ctx *c)
{
	__u32 one = 1;
	struct walk *w = bpf_map_lookup_elem(&knox_walks, &one);
	if (!w || i >= c->len)
		return 1;
	if (w->buf[i & (PATH_BUF - 1)] == '/')
		c->parent_len = i + 1;
	return 0;
}

/*
 * Copies the basename of the string at `p` (a user pointer when `user`, else a kernel
 * one) into `out`, zero-padded to NAME_KEY. Returns false when there is none or it is
 * too long to be a key. Uses walks[1].
 */
static __always_inline bool basename_into(char *out, const char *p, bool user)
{
	struct walk *fw = walk_buf(1);
	if (!fw || !p)
		return false;
	long n = user ? bpf_probe_read_user_str(fw->buf, PATH_BUF, p)
		      : bpf_probe_read_kernel_str(fw->buf, PATH_BUF, p);
	if (n < 2)
		return false;
	struct scan_ctx sc = { .len = n - 1 };
	bpf_loop(PATH_BUF, last_slash, &sc, 0);
	__u64 len = n - 1 - sc.parent_len;
	if (len == 0 || len > NAME_KEY - 1)
		return false;
	__builtin_memset(out, 0, NAME_KEY);
	barrier_var(len);
	len &= NAME_KEY - 1;
	bpf_probe_read_kernel(out, len, &fw->buf[sc.parent_len & (PATH_BUF - 1)]);
	return true;
}

/* execve's or execveat's argv, from the caller's saved registers (x86-64 syscalls). */
static __always_inline const char *const *exec_argv(struct task_struct *task)
{
	struct pt_regs *regs = bpf_task_pt_regs(task);
	if (!regs)
		return 0;
	long nr = regs->orig_ax;
	if (nr == 59) /* execve(filename, argv, envp) */
		return (const char *const *)regs->si;
	if (nr == 322) /* execveat(dirfd, filename, argv, envp, flags) */
		return (const char *const *)regs->dx;
	return 0;
}

/* Whether `name` (NAME_KEY bytes, zero-padded) is the basename of walks[0]'s path `w`. */
static __always_inline bool is_binary_name(const char *name, struct walk *w, char *scratch)
{
	__u64 n = w->len - w->parent_len;
	if (n == 0 || n > NAME_KEY - 1)
		return false;
	__builtin_memset(scratch, 0, NAME_KEY);
	barrier_var(n);
	n &= NAME_KEY - 1;
	bpf_probe_read_kernel(scratch, n, &w->buf[(w->off + w->parent_len) & (PATH_BUF - 1)]);
	const __u32 *a = (const __u32 *)name, *b = (const __u32 *)scratch;
	__u32 diff = 0;
#pragma unroll
	for (int i = 0; i < NAME_KEY / 4; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/*
 * A rule on `/usr/bin/wget` where that is a symlink to busybox: the kernel resolves the
 * exec to busybox, and busybox picks the applet from the name it was run by. So the rule
 * is matched as (this very binary, run under this name): any symlink or hard link
 * spelling of the applet matches, other applets and other programs named wget do not.
 * The name is looked for where busybox looks: the path the caller executed, argv[0]
 * (`exec -a wget /bin/busybox`), and argv[1] when argv[0] is the binary's own name
 * (`busybox wget`). argv is read from the caller's memory, which the kernel has already
 * copied: a second thread rewriting it at that moment could race the check (the copy in
 * the new program's stack is not readable from this hook).
 * Uses walks[1] (the executable is walked again if a fromSource rule needs it).
 */
static __always_inline void match_applet(struct decision *d, struct subject *s,
					 const char *filename, struct inode *inode, __u32 owner,
					 struct walk *w)
{
	struct keys *kb = keys_buf();
	if (!kb || !inode)
		return;
	struct applet_key *k = &kb->ak;
	struct super_block *sb = READ_KERN(inode->i_sb);
	k->scope = scope_of(s, KIND_PROCESS);
	k->dev = READ_KERN(sb->s_dev);
	k->ino = READ_KERN(inode->i_ino);
	s->exe_state = 0;
	if (basename_into(k->name, filename, false))
		evaluate(d, bpf_map_lookup_elem(&knox_applets, k), ~0U, false, owner, s);
	const char *const *argv = exec_argv(s->task);
	if (!argv)
		return;
	const char *arg = 0;
	if (bpf_probe_read_user(&arg, sizeof(arg), &argv[0]) || !basename_into(k->name, arg, true))
		return;
	if (is_binary_name(k->name, w, kb->nk.name)) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[1]) ||
		    !basename_into(k->name, arg, true))
			return;
	}
	evaluate(d, bpf_map_lookup_elem(&knox_applets, k), ~0U, false, owner, s);
}

/* ---- the miss cache ----
 *
 * Most operations match no rule at all, and finding that out costs a path walk and
 * three lookups. The answer "no entry matched this file" depends only on the file's
 * identity and the rules, so it is remembered as a keyed 64-bit hash of (inode, dentry,
 * its parent, its name's hash, mount, target, the rules' generation, a global epoch,
 * kind) in a direct-mapped table indexed by that same hash:
 * a hit costs one inlined array lookup (inode storage, a helper call, costs more than
 * everything else on this path) and one compare. Slots are single words, written and
 * read atomically, so concurrent updates cannot leave a half-written entry; two
 * identities sharing a slot simply evict each other, and a false hit needs a 64-bit
 * collision under a per-start random key the caller cannot see. The epoch moves
 * whenever a path could change meaning without the identity changing: a rename, an
 * unlink or rmdir (a freed dentry's address is soon reused), a mount, an unmount, a
 * moved mount. Only misses are cached: a file that matched is evaluated in full every
 * time (its decision can depend on the process, the owner, the open mode).
 */
#define MISS_SLOTS 65536 /* the top 16 bits of the hash pick the slot */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MISS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} knox_miss_cache SEC(".maps");

static __always_inline void epoch_bump(void)
{
	__sync_fetch_and_add(&knox_epoch, 1);
}

/*
 * A kernel pointer as a number: the verifier refuses arithmetic on pointers except
 * pointer minus pointer, which (for a privileged loader) yields a plain scalar. The map's
 * address is constant, so the difference identifies the object as well as its address.
 */
#define PTR_ID(p) ((__u64)(p) - (__u64)&knox_config)

#define MIX 0x9e3779b97f4a7c15ULL

/* The identity of `file` as seen by this task under the current rules; never 0. Each
 * step (xor, then multiply by an odd constant) is a bijection of the running value. */
static __always_inline __u64 miss_hash(struct file *file, struct subject *s, __u32 kind)
{
	struct dentry *d = file->f_path.dentry;
	__u64 h = s->seed;
	/* The dentry implies the inode while it is positive (unlink bumps the epoch). */
	h = (h ^ PTR_ID(d)) * MIX;
	h = (h ^ PTR_ID(d->d_parent)) * MIX;
	h = (h ^ d->d_name.hash) * MIX;
	h = (h ^ PTR_ID(file->f_path.mnt)) * MIX;
	/* No task root: paths are walked to the namespace's root, and a mount belongs to one
	 * namespace, so the mount already says where the walk ends. */
	h = (h ^ (((__u64)s->target << 32) | s->generation)) * MIX;
	h = (h ^ (((__u64)s->epoch << 32) | kind)) * MIX;
	return h | 1;
}

/* The slot comes from the top bits: a multiply carries every input bit upwards only. */
static __always_inline __u64 *miss_slot(__u64 h)
{
	__u32 i = h >> 48;
	return bpf_map_lookup_elem(&knox_miss_cache, &i);
}

static __always_inline bool cache_hit(struct file *file, struct subject *s, __u32 kind)
{
	__u64 h = miss_hash(file, s, kind);
	__u64 *slot = miss_slot(h);
	return slot && *slot == h;
}

static __always_inline void cache_miss(struct file *file, struct subject *s, __u32 kind)
{
	__u64 h = miss_hash(file, s, kind);
	__u64 *slot = miss_slot(h);
	if (slot)
		*slot = h;
}

/* ---- hooks: process ---- */

SEC("lsm/bprm_check_security")
int knox_bprm_check(__u64 *ctx)
{
	struct linux_binprm *bprm = (void *)ctx[0];
	int ret = (int)ctx[1];
	struct subject s;
	if (ret || !subject_begin(&s) || !(s.tflags & T_PROCESS))
		return ret;
	struct file *file = bprm->file; /* a BTF pointer, as the hook's arguments are */
	/* Applet rules depend on the name the caller used, not on the file: no caching. */
	bool cacheable = file && !(s.tflags & (T_APPLETS | T_ALLOW_PROC));
	if ((cacheable && cache_hit(file, &s, KIND_PROCESS)) || subject_exempt(&s))
		return 0;
	struct walk *w = walk_file(0, file, &s, KIND_PROCESS);
	if (!w)
		return 0;
	struct inode *inode = READ_KERN(file->f_inode);
	struct decision d = {};
	match_path(&d, &s, KIND_PROCESS, w, inode, inode_owner(inode), false);
	match_name(&d, &s, w, inode_owner(inode));
	if (s.tflags & T_APPLETS)
		match_applet(&d, &s, READ_KERN(bprm->filename), inode, inode_owner(inode), w);
	if (cacheable && !d.seen)
		cache_miss(file, &s, KIND_PROCESS);
	return conclude(&s, &d, T_ALLOW_PROC, T_BLOCK_PROC_FILE, OP_EXEC, w, 0, 0, EACCES,
			false);
}

/*
 * Mapping a file executable is running it: `ld-linux-x86-64.so.2 /usr/bin/apt` never
 * execs apt. Only rules that deny count here (the default posture and audits would fire
 * for every shared library).
 */
static __always_inline int exec_mapping(struct file *file, __u32 prot)
{
	struct subject s;
	if (!file || !(prot & PROT_EXEC) || !subject_begin(&s) || !(s.tflags & T_PROCESS))
		return 0;
	/* Only denials count here, so allow-list mode does not matter. */
	if (cache_hit(file, &s, KIND_PROCESS) || subject_exempt(&s))
		return 0;
	struct walk *w = walk_file(0, file, &s, KIND_PROCESS);
	if (!w)
		return 0;
	struct inode *inode = READ_KERN(file->f_inode);
	struct decision d = {};
	match_path(&d, &s, KIND_PROCESS, w, inode, inode_owner(inode), false);
	match_name(&d, &s, w, inode_owner(inode));
	if (!d.seen)
		cache_miss(file, &s, KIND_PROCESS);
	if (!d.deny)
		return 0;
	report(&s, OP_MMAP, V_DENY, d.deny, w, prot, 0);
	return -EACCES;
}

SEC("lsm/mmap_file")
int knox_mmap_file(__u64 *ctx)
{
	int ret = (int)ctx[4];
	if (ret)
		return ret;
	return exec_mapping((struct file *)ctx[0], (__u32)ctx[2]);
}

SEC("lsm/file_mprotect")
int knox_file_mprotect(__u64 *ctx)
{
	struct vm_area_struct *vma = (void *)ctx[0];
	int ret = (int)ctx[3];
	if (ret)
		return ret;
	return exec_mapping(vma->vm_file, (__u32)ctx[2]);
}

/* ---- hooks: files ---- */

SEC("lsm/file_open")
int knox_file_open(__u64 *ctx)
{
	struct file *file = (void *)ctx[0];
	int ret = (int)ctx[1];
	struct subject s;
	if (ret || !subject_begin(&s) || !(s.tflags & T_FILE))
		return ret;
	/* In allow-list mode a miss is still reported (the default posture): no caching. */
	bool cacheable = !(s.tflags & T_ALLOW_FILE);
	if ((cacheable && cache_hit(file, &s, KIND_FILE)) || subject_exempt(&s))
		return 0;
	fmode_t mode = file->f_mode;
	/* The exec itself is a process rule's business (never cached as a file miss: a miss
	 * is only recorded below). do_open_execat() (and uselib) open with __FMODE_EXEC in
	 * the open flags; the kernel copies only the access mode into f_mode (OPEN_FMODE), so
	 * f_flags is where it shows, as AppArmor and TOMOYO test it since v6.8. open(2),
	 * openat2(2) and fcntl(F_SETFL) cannot set that bit (VALID_OPEN_FLAGS, SETFL_MASK).
	 * f_mode is tested too, should a kernel ever carry it there. */
	unsigned int flags = file->f_flags; /* a BTF pointer: a plain, relocated load */
	if ((mode & FMODE_EXEC) || (flags & __FMODE_EXEC))
		return 0;
	struct walk *w = walk_file(0, file, &s, KIND_FILE);
	if (!w)
		return 0;
	bool write = mode & FMODE_WRITE;
	struct inode *inode = READ_KERN(file->f_inode);
	struct decision d = {};
	match_path(&d, &s, KIND_FILE, w, inode, inode_owner(inode), write);
	if (cacheable && !d.seen)
		cache_miss(file, &s, KIND_FILE);
	return conclude(&s, &d, T_ALLOW_FILE, T_BLOCK_PROC_FILE, OP_OPEN, w, flags, 0, EACCES,
			false);
}

/* A change to the name `dentry` in `dir`: a write for file rules. */
static __always_inline int name_change(struct path *dir, struct dentry *dentry, __u8 op,
				       __u32 arg)
{
	struct subject s;
	if (!subject_init(&s) || !(s.tflags & T_FILE))
		return 0;
	struct walk *w = walk_dentry(0, dir, dentry, &s, 1 << KIND_FILE);
	if (!w)
		return 0;
	struct inode *inode = READ_KERN(dentry->d_inode);
	/* Not created yet: the owner is the directory's. */
	struct inode *owned = inode;
	if (!owned) {
		struct dentry *parent = READ_KERN(dentry->d_parent);
		owned = READ_KERN(parent->d_inode);
	}
	struct decision d = {};
	match_path(&d, &s, KIND_FILE, w, inode, inode_owner(owned), true);
	return conclude(&s, &d, T_ALLOW_FILE, T_BLOCK_PROC_FILE, op, w, arg, 0, EACCES,
			false);
}

SEC("lsm/path_mknod")
int knox_path_mknod(__u64 *ctx)
{
	int ret = (int)ctx[4];
	return ret ? ret : name_change((void *)ctx[0], (void *)ctx[1], OP_CREATE, (__u32)ctx[2]);
}

SEC("lsm/path_mkdir")
int knox_path_mkdir(__u64 *ctx)
{
	int ret = (int)ctx[3];
	return ret ? ret : name_change((void *)ctx[0], (void *)ctx[1], OP_MKDIR, (__u32)ctx[2]);
}

SEC("lsm/path_unlink")
int knox_path_unlink(__u64 *ctx)
{
	int ret = (int)ctx[2];
	if (ret)
		return ret;
	ret = name_change((void *)ctx[0], (void *)ctx[1], OP_UNLINK, 0);
	if (!ret)
		epoch_bump();
	return ret;
}

SEC("lsm/path_rmdir")
int knox_path_rmdir(__u64 *ctx)
{
	int ret = (int)ctx[2];
	if (ret)
		return ret;
	ret = name_change((void *)ctx[0], (void *)ctx[1], OP_RMDIR, 0);
	if (!ret)
		epoch_bump();
	return ret;
}

SEC("lsm/path_symlink")
int knox_path_symlink(__u64 *ctx)
{
	int ret = (int)ctx[3];
	return ret ? ret : name_change((void *)ctx[0], (void *)ctx[1], OP_SYMLINK, 0);
}

/*
 * A rename that moves a protected directory's ancestor (or exchanges one away) renames
 * everything below it: /opt -> /opt2 turns /opt/fim/f into /opt2/fim/f, which no rule
 * names. Reported on the renamed name.
 */
static __always_inline int rename_moves(struct path *dir, struct dentry *dentry, __u32 arg)
{
	struct subject s;
	if (!subject_init(&s) || !(s.tflags & T_ANCESTORS))
		return 0;
	struct decision d = {};
	match_ancestor(&d, &s, dentry);
	if (!d.seen)
		return 0;
	struct walk *w = walk_dentry(0, dir, dentry, &s, 0);
	return conclude(&s, &d, 0, 0, OP_RENAME, w, arg, 0, EACCES, false);
}

/* Both names of a rename or link are written: the source disappears (or gains a name). */
SEC("lsm/path_rename")
int knox_path_rename(__u64 *ctx)
{
	int ret = (int)ctx[5];
	if (ret)
		return ret;
	ret = name_change((void *)ctx[0], (void *)ctx[1], OP_RENAME, 0);
	if (ret)
		return ret;
	ret = name_change((void *)ctx[2], (void *)ctx[3], OP_RENAME, 1);
	if (ret)
		return ret;
	/* The target too: RENAME_EXCHANGE moves it to the source's name. */
	ret = rename_moves((void *)ctx[0], (void *)ctx[1], 0);
	if (ret)
		return ret;
	ret = rename_moves((void *)ctx[2], (void *)ctx[3], 1);
	if (!ret)
		epoch_bump();
	return ret;
}

/*
 * Something mounted on a protected directory, inside one, or on one of its ancestors
 * (`mount --bind /tmp/fake /opt` over /opt/fim) hides what the rules protect and shows
 * other files under its name.
 * - In the initial mount namespace (the host's, where the protected names live) such a
 *   mount is refused with the Block rule's alert (an Audit rule only reports it): the
 *   directory and its ancestors by inode (knox_ancestors, as for renames), a mount inside
 *   it by the walk (knox_dir_ids).
 * - In any other mount namespace it is not refused: systemd's service sandboxing
 *   (ProtectSystem=, ReadOnlyPaths=...) binds / and /usr over themselves in the service's
 *   own namespace, and refusing that makes such services fail (226/NAMESPACE). A mount on
 *   or inside a protected directory is reported there as Audit (Block) (or Audit); one on
 *   an ancestor is not reported (systemd does it at every sandboxed service start). Files
 *   reached through such a mount are still decided on their protected name (the rules
 *   follow the directory by inode, see protected_walk).
 * Remounts and propagation changes move nothing and are not checked.
 */
static __always_inline int mount_check(struct path *target, __u32 arg)
{
	struct subject s;
	if (!target || !subject_init(&s) || !(s.tflags & (T_DIR_IDS | T_ANCESTORS)))
		return 0;
	struct dentry *dentry = READ_KERN(target->dentry);
	__u32 init_ns = knox_init_mnt_ns;
	bool host_ns = init_ns && s.task->nsproxy->mnt_ns->ns.inum == init_ns;
	if (host_ns && (s.tflags & T_ANCESTORS)) {
		struct decision d = {};
		match_ancestor(&d, &s, dentry);
		if (d.deny || d.audit) {
			struct walk *w = walk_dentry(0, target, dentry, &s, 0);
			return conclude(&s, &d, 0, 0, OP_MOUNT, w, arg, 0, EACCES, false);
		}
	}
	if (!(s.tflags & T_DIR_IDS))
		return 0;
	struct walk *w = walk_dentry(0, target, dentry, &s, 1 << KIND_FILE | 1 << KIND_PROCESS);
	if (!w || !w->hit)
		return 0;
	struct inode_key k = { .scope = w->hit_scope, .dev = w->hit_dev, .ino = w->hit_ino };
	struct dir_id *di = bpf_map_lookup_elem(&knox_dir_ids, &k);
	if (!di || !di->mount_rule)
		return 0;
	__u32 rule = di->mount_rule;
	bool deny = di->mount_flags & SL_DENY;
	__u8 verdict = deny ? (host_ns ? V_DENY : V_AUDIT_BLOCK) : V_AUDIT;
	w->prot = protected_walk(w) != 0;
	report(&s, OP_MOUNT, verdict, rule, w, arg, 0);
	return deny && host_ns ? -EACCES : 0;
}

/* Mount changes move whole trees to other paths: forget every cached miss. */
SEC("lsm/sb_mount")
int knox_sb_mount(__u64 *ctx)
{
	__u64 flags = ctx[3];
	int ret = (int)ctx[5];
	if (ret)
		return ret;
	epoch_bump();
	if (flags & (MS_REMOUNT | MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED))
		return 0;
	return mount_check((struct path *)ctx[1], 0);
}

SEC("lsm/sb_umount")
int knox_sb_umount(__u64 *ctx)
{
	int ret = (int)ctx[2];
	if (!ret)
		epoch_bump();
	return ret;
}

SEC("lsm/move_mount")
int knox_move_mount(__u64 *ctx)
{
	int ret = (int)ctx[2];
	if (ret)
		return ret;
	epoch_bump();
	return mount_check((struct path *)ctx[1], 1);
}

SEC("lsm/path_link")
int knox_path_link(__u64 *ctx)
{
	struct dentry *old = (void *)ctx[0];
	struct path *new_dir = (void *)ctx[1];
	int ret = (int)ctx[3];
	if (ret)
		return ret;
	/* The old name lives in the same mount as the new one (links never cross mounts). */
	ret = name_change(new_dir, old, OP_LINK, 0);
	if (ret)
		return ret;
	return name_change(new_dir, (void *)ctx[2], OP_LINK, 1);
}

static __always_inline int path_write(struct path *path, __u8 op, __u32 arg)
{
	struct dentry *d = READ_KERN(path->dentry);
	return name_change(path, d, op, arg);
}

SEC("lsm/path_chmod")
int knox_path_chmod(__u64 *ctx)
{
	int ret = (int)ctx[2];
	return ret ? ret : path_write((void *)ctx[0], OP_CHMOD, (__u32)ctx[1]);
}

SEC("lsm/path_chown")
int knox_path_chown(__u64 *ctx)
{
	int ret = (int)ctx[3];
	return ret ? ret : path_write((void *)ctx[0], OP_CHOWN, 0);
}

SEC("lsm/path_truncate")
int knox_path_truncate(__u64 *ctx)
{
	int ret = (int)ctx[1];
	return ret ? ret : path_write((void *)ctx[0], OP_TRUNCATE, 0);
}

/* ---- hooks: network ---- */

static __always_inline void match_num(struct decision *d, struct subject *s, __u32 kind,
				      __u32 num)
{
	struct num_key k = { .scope = scope_of(s, kind), .num = num };
	evaluate(d, bpf_map_lookup_elem(&knox_nums, &k), ~0U, false, 0, s);
}

/* Every protocol name a socket answers to (`tcp`, `stream`, `all`, ...). */
static __always_inline int socket_check(int family, int type, int protocol, __u8 op)
{
	struct subject s;
	if (!subject_init(&s) || !(s.tflags & T_NET))
		return 0;
	if (family != AF_INET && family != AF_INET6 && family != AF_PACKET)
		return 0; /* unix and netlink sockets are local IPC, as in KubeArmor */
	type &= SOCK_TYPE_MASK;
	struct decision d = {};
	if (family == AF_PACKET) {
		match_num(&d, &s, KIND_NET, P_PACKET);
	} else {
		__u32 specific = 0, by_type = 0;
		switch (type) {
		case SOCK_STREAM:
			by_type = P_STREAM;
			specific = protocol == IPPROTO_SCTP ? P_SCTP : P_TCP;
			break;
		case SOCK_DGRAM:
			by_type = P_DGRAM;
			if (protocol == IPPROTO_ICMP)
				specific = P_ICMP;
			else if (protocol == IPPROTO_ICMPV6)
				specific = P_ICMPV6;
			else if (protocol == IPPROTO_DCCP)
				specific = P_DCCP;
			else
				specific = P_UDP;
			break;
		case SOCK_RAW:
			by_type = P_RAW;
			if (protocol == IPPROTO_ICMP)
				specific = P_ICMP;
			else if (protocol == IPPROTO_ICMPV6)
				specific = P_ICMPV6;
			break;
		case SOCK_SEQPACKET:
			by_type = P_SEQPACKET;
			if (protocol == IPPROTO_SCTP)
				specific = P_SCTP;
			break;
		case SOCK_RDM:
			by_type = P_RDM;
			break;
		}
		if (specific)
			match_num(&d, &s, KIND_NET, specific);
		if (by_type)
			match_num(&d, &s, KIND_NET, by_type);
	}
	match_num(&d, &s, KIND_NET, P_ALL);
	return conclude(&s, &d, T_ALLOW_NET, T_BLOCK_NET, op, 0, (family << 16) | type, protocol,
			EACCES, false);
}

SEC("lsm/socket_create")
int knox_socket_create(__u64 *ctx)
{
	int ret = (int)ctx[4];
	if (ret || (int)ctx[3] /* kern */)
		return ret;
	return socket_check((int)ctx[0], (int)ctx[1], (int)ctx[2], OP_SOCKET);
}

static __always_inline int socket_use(struct socket *sock, __u8 op)
{
	struct sock *sk = READ_KERN(sock->sk);
	if (!sk)
		return 0;
	int family = READ_KERN(sk->__sk_common.skc_family);
	int type = READ_KERN(sk->sk_type);
	int protocol = READ_KERN(sk->sk_protocol);
	return socket_check(family, type, protocol, op);
}

SEC("lsm/socket_connect")
int knox_socket_connect(__u64 *ctx)
{
	int ret = (int)ctx[3];
	return ret ? ret : socket_use((void *)ctx[0], OP_CONNECT);
}

SEC("lsm/socket_accept")
int knox_socket_accept(__u64 *ctx)
{
	int ret = (int)ctx[2];
	return ret ? ret : socket_use((void *)ctx[0], OP_ACCEPT);
}

/* ---- hooks: capabilities ---- */

SEC("lsm/capable")
int knox_capable(__u64 *ctx)
{
	int cap = (int)ctx[2];
	__u32 opts = (__u32)ctx[3];
	int ret = (int)ctx[4];
	struct subject s;
	if (ret || !subject_init(&s) || !(s.tflags & T_CAP))
		return ret;
	struct decision d = {};
	match_num(&d, &s, KIND_CAP, cap);
	/* Checks the kernel itself does not audit (probing, not acting) are not reported. */
	return conclude(&s, &d, T_ALLOW_CAP, T_BLOCK_CAP, OP_CAPABLE, 0, cap, 0, EPERM,
			opts & CAP_OPT_NOAUDIT);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
