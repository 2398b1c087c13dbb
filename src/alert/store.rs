//! The alert store: an embedded SQLite database at `<state-dir>/alerts.db` that the agent
//! writes through [`AlertWriter`] and `knoxctl alerts` reads directly, so alerts can be
//! queried while the agent is stopped.
//!
//! Layout. One row per alert, one column per [`Alert`] field, so the whole alert is kept and
//! comes back exactly (its KubeArmor JSON is rendered from it). Text fields that repeat from
//! alert to alert (PolicyName, Action, Tags, Message, Data, container identity, ...) are
//! stored as ids into a `strings` dictionary; only the fields that differ nearly every time
//! (UpdatedTime, Source, Resource, ATags) are inline. Measured on KubeArmor-like alerts, the
//! first layout (filter columns plus a JSON copy) wrote ~1 KiB per alert and the writer
//! managed half the rate it needed; the dictionary brings a row to ~200 bytes, and a regular
//! expression on a dictionary field runs once per distinct value instead of once per row.
//! Dictionary entries are never deleted: they are the few thousand values a host produces.
//!
//! Indexes are only where they are cheap to keep: `Timestamp`, and `PolicyName`,
//! `ProcessName` and `Action` (few distinct values, so inserts touch few pages). An index on a
//! many-valued field such as `Resource` dirties one page per insert and cost more than the
//! rest of the insert together; filters on it scan the table instead.
//!
//! Order. "Chronological" means by `Timestamp`, ties by arrival (id); every index ends in
//! `ts`, so an equality filter plus `ORDER BY ts, id` (and `--limit`) is answered from the
//! index without sorting.
//!
//! Ids. The writer numbers alerts itself and records the last number in `meta` with each
//! batch, so ids only grow, even after retention has deleted every row, and `alerts tail`
//! can follow by id. There is one writer per store (the agent's).
//!
//! Writing. One thread owns the write connection and commits in batches (up to
//! [`WriterOptions::max_batch`] alerts or every [`WriterOptions::flush_interval`]); another
//! copies the WAL into the database. Alerts reach it packed into one buffer each
//! ([`Packed`], made on the sender's thread), and are unpacked only for throttling and
//! the commit hook. Producers never block: [`AlertSender::send`] drops the
//! alert and counts it when the queue is full, because an enforcement path must not wait on
//! a disk.

use super::Alert;
use super::filter::{Field, FieldValue, Filter, Op, Operand};
use super::packed::{INTERNED_FIELDS, Packed, View};
use crate::kernel::clock::now_epoch;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, Row, params, params_from_iter};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The database file inside the state directory.
pub const DB_FILE: &str = "alerts.db";
/// The telemetry store's file (see [`StoreKind::Logs`]).
pub const LOGS_DB_FILE: &str = "logs.db";

/// Which of the agent's two stores: the same layout and machinery, separate files (and
/// writer threads), so that a flood of telemetry never delays, drops or prunes an alert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// Policy alerts (`alerts.db`): what `knoxctl alerts` reads.
    #[default]
    Alerts,
    /// The monitor's non-alert events, KubeArmor's HostLog/ContainerLog (`logs.db`), kept
    /// as the configuration's `visibility` asks: what `knoxctl logs` reads.
    Logs,
}

impl StoreKind {
    pub fn file_name(self) -> &'static str {
        match self {
            StoreKind::Alerts => DB_FILE,
            StoreKind::Logs => LOGS_DB_FILE,
        }
    }

    /// What one record is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            StoreKind::Alerts => "alert",
            StoreKind::Logs => "log",
        }
    }

    /// The writer's thread name (and its checkpointer's, with `-checkpoint`).
    fn thread(self) -> &'static str {
        match self {
            StoreKind::Alerts => "alert",
            StoreKind::Logs => "log",
        }
    }
}

/// Bumped when the layout changes; a store from a newer knoxctl is refused, not misread.
const SCHEMA_VERSION: i64 = 1;

/// How a field is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    /// Inline text.
    Text,
    /// An id into `strings` (0 is the empty string).
    Interned,
}

fn kind(field: Field) -> Kind {
    match field {
        Field::Timestamp
        | Field::HostPPID
        | Field::HostPID
        | Field::PPID
        | Field::PID
        | Field::UID => Kind::Int,
        // Different in (nearly) every alert: a dictionary would only grow.
        Field::UpdatedTime | Field::Source | Field::Resource | Field::ATags => Kind::Text,
        _ => Kind::Interned,
    }
}

/// The column of each field. `Severity` keeps its text (interned, as in the alert);
/// `severity_n` beside it holds its number (NULL when it is not one) for comparisons.
/// `ATags` is a JSON array ('' when empty).
fn column(field: Field) -> &'static str {
    match field {
        Field::Timestamp => "ts",
        Field::UpdatedTime => "updated_time",
        Field::ClusterName => "cluster_name",
        Field::HostName => "host_name",
        Field::NamespaceName => "namespace_name",
        Field::PodName => "pod_name",
        Field::Labels => "labels",
        Field::ContainerID => "container_id",
        Field::ContainerName => "container_name",
        Field::ContainerImage => "container_image",
        Field::HostPPID => "host_ppid",
        Field::HostPID => "host_pid",
        Field::PPID => "ppid",
        Field::PID => "pid",
        Field::UID => "uid",
        Field::ParentProcessName => "parent_process_name",
        Field::ProcessName => "process_name",
        Field::PolicyName => "policy_name",
        Field::Severity => "severity",
        Field::Tags => "tags",
        Field::ATags => "atags",
        Field::Message => "message",
        Field::Type => "type",
        Field::Source => "source",
        Field::Operation => "operation",
        Field::Resource => "resource",
        Field::Data => "data",
        Field::Enforcer => "enforcer",
        Field::Action => "action",
        Field::Result => "result",
        Field::Cwd => "cwd",
        Field::TTY => "tty",
    }
}

fn schema() -> String {
    let mut cols = String::from("id INTEGER PRIMARY KEY");
    for f in Field::ALL {
        let ty = match kind(f) {
            Kind::Int | Kind::Interned => "INTEGER",
            Kind::Text => "TEXT",
        };
        cols.push_str(&format!(",\n    {} {ty} NOT NULL", column(f)));
    }
    cols.push_str(",\n    severity_n INTEGER");
    format!(
        "CREATE TABLE alerts (\n    {cols}\n);
CREATE TABLE strings (id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE);
INSERT INTO strings (id, s) VALUES (0, '');
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
-- Each index serves an equality filter and the chronological order at once. Every index
-- costs the writer ~0.5 us per alert (a third of its budget at 300K alerts/s), so only the
-- time order and the filter forensics starts from (the policy) have one; other equality
-- filters scan the window, which a time bound keeps short (see BENCHMARKS.md).
CREATE INDEX alerts_ts ON alerts (ts);
CREATE INDEX alerts_policy_name ON alerts (policy_name, ts);
"
    )
}

/// Indexes of earlier knoxctl versions that no longer pay for themselves; dropped when the
/// writer opens an old store (readers of any version work without them).
const DROPPED_INDEXES: &str = "DROP INDEX IF EXISTS alerts_process_name;
DROP INDEX IF EXISTS alerts_action;";

/// `a.ts, a.updated_time, ...`: every field, in `Field::ALL` order, for `alert_from_row`.
fn all_columns() -> String {
    Field::ALL
        .iter()
        .map(|f| format!("a.{}", column(*f)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parameters per row: id, every field, severity_n.
const PARAMS_PER_ROW: usize = Field::ALL.len() + 2;

/// One row per statement: a statement of many rows makes SQLite keep a statement journal
/// (a temporary file written with every page the statement touches), which cost a third
/// of the writer's time when tried, more than it saved.
fn insert_sql() -> String {
    let names: Vec<&str> = Field::ALL.iter().map(|f| column(*f)).collect();
    let marks: Vec<String> = (1..=PARAMS_PER_ROW).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO alerts (id, {}, severity_n) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    )
}

static INSERT: std::sync::LazyLock<String> = std::sync::LazyLock::new(insert_sql);

/// Text bound straight from a packed alert's bytes (UTF-8: packed from `&str`s).
struct Utf8<'a>(&'a [u8]);

impl rusqlite::ToSql for Utf8<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(ValueRef::Text(
            self.0,
        )))
    }
}

/// Binds one row's parameters in order.
struct Binder<'s, 'c> {
    stmt: &'s mut rusqlite::CachedStatement<'c>,
    at: usize,
}

impl Binder<'_, '_> {
    fn put<T: rusqlite::ToSql>(&mut self, v: T) -> rusqlite::Result<()> {
        self.at += 1;
        self.stmt.raw_bind_parameter(self.at, v)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no alert store at {}", .path.display())]
    Missing { path: PathBuf },
    #[error("cannot create the state directory {}: {source}", .path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the alert store {}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("alert store {}: {source}", .path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "alert store {} has layout version {found}, newer than this knoxctl understands ({SCHEMA_VERSION}); use a newer knoxctl",
        .path.display()
    )]
    NewerSchema { path: PathBuf, found: i64 },
    #[error("{} is not a knoxctl alert store", .path.display())]
    NotAStore { path: PathBuf },
    #[error("alert store {} is damaged: {detail}", .path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot start the alert writer thread: {0}")]
    Thread(std::io::Error),
    #[error(
        "the alert store {} is already open for writing by another process (is another agent running?)",
        .path.display()
    )]
    Locked { path: PathBuf },
    #[error("cannot lock the alert store {}: {source}", .path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How long alerts are kept. Both limits apply; deleted pages are reused, so the file stops
/// growing once either limit is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Alerts whose Timestamp is older than this are deleted.
    pub max_age: Duration,
    /// At most this many alerts are kept (the oldest go first). About 200 bytes each on
    /// disk for KubeArmor-like alerts.
    pub max_rows: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(14 * 86_400),
            max_rows: 2_000_000,
        }
    }
}

/// Which alerts a query returns: all filters hold, `since` ≤ Timestamp ≤ `until` (epoch
/// seconds), and of those the newest `limit`, in chronological order.
#[derive(Debug, Default)]
pub struct Query {
    pub filters: Vec<Filter>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: Option<usize>,
}

pub struct Store {
    path: PathBuf,
    conn: Connection,
    /// The last id written (writer) or seen in `meta` when opened (reader).
    last_id: i64,
    /// Writer: dictionary text → id, loaded on the first write.
    intern: Option<HashMap<String, i64>>,
    /// Reader: dictionary id → text; ids are dense, and loaded as far as needed.
    names: RefCell<Vec<String>>,
    /// Writer: `alerts.db.lock`, held with flock(2) while the store is open for writing.
    _lock: Option<std::fs::File>,
}

fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        // IS NOT: a NULL severity_n is "not equal", as Filter::matches says.
        Op::Ne => "IS NOT",
        Op::Ge => ">=",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Lt => "<",
        Op::Regex | Op::NotRegex => unreachable!("regex filters are evaluated in Rust"),
    }
}

/// The pieces of one query: WHERE clause and parameters, plus the filters left to Rust
/// (regular expressions on inline and numeric fields, and ATags).
struct Plan<'q> {
    where_sql: String,
    params: Vec<Value>,
    /// (filter, index of its column in `columns`)
    in_rust: Vec<(&'q Filter, usize)>,
    columns: Vec<&'static str>,
}

impl<'q> Plan<'q> {
    /// Evaluates the Rust part on a row whose selected columns start at `at`.
    fn matches(&self, row: &Row<'_>, at: usize) -> bool {
        self.in_rust
            .iter()
            .all(|(f, idx)| match row.get_ref(at + idx) {
                Ok(ValueRef::Integer(n)) => f.matches_value(FieldValue::Int(n)),
                Ok(ValueRef::Text(t)) => {
                    let s = std::str::from_utf8(t).unwrap_or("");
                    if f.field == Field::ATags {
                        let tags: Vec<String> = if s.is_empty() {
                            Vec::new()
                        } else {
                            serde_json::from_str(s).unwrap_or_default()
                        };
                        f.matches_value(FieldValue::List(&tags))
                    } else {
                        f.matches_value(FieldValue::Str(s))
                    }
                }
                _ => false,
            })
    }
}

impl Store {
    pub fn db_path(state_dir: &Path) -> PathBuf {
        Self::db_path_kind(state_dir, StoreKind::Alerts)
    }

    pub fn db_path_kind(state_dir: &Path, kind: StoreKind) -> PathBuf {
        state_dir.join(kind.file_name())
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn new(path: PathBuf, conn: Connection) -> Store {
        Store {
            path,
            conn,
            last_id: 0,
            intern: None,
            names: RefCell::new(Vec::new()),
            _lock: None,
        }
    }

    /// Opens the store for writing, creating the state directory and database if needed.
    /// Only one process may write: the writer numbers alerts and keeps the dictionary in
    /// memory, so a second writer would collide with it.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        Self::open_kind(state_dir, StoreKind::Alerts)
    }

    /// [`Store::open`] for either store.
    pub fn open_kind(state_dir: &Path, kind: StoreKind) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::CreateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = Self::db_path_kind(state_dir, kind);
        let lock = Self::lock(&path)?;
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut store = Store::new(path, conn);
        store._lock = Some(lock);
        store.setup_writer().map_err(|e| store.err(e))?;
        store.check_schema()?;
        store.last_id = store.read_last_id()?;
        Ok(store)
    }

    fn lock(db: &Path) -> Result<std::fs::File, StoreError> {
        use std::os::fd::AsRawFd;
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&name)
            .map_err(|source| StoreError::Lock {
                path: db.to_path_buf(),
                source,
            })?;
        // SAFETY: flock on a descriptor this function owns; released when the file closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let source = std::io::Error::last_os_error();
            return Err(if source.kind() == std::io::ErrorKind::WouldBlock {
                StoreError::Locked {
                    path: db.to_path_buf(),
                }
            } else {
                StoreError::Lock {
                    path: db.to_path_buf(),
                    source,
                }
            });
        }
        Ok(file)
    }

    fn setup_writer(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(5))?;
        // Only takes effect on a new database: 8 KiB pages hold ~40 alerts each.
        self.conn.pragma_update(None, "page_size", 8192)?;
        // WAL: readers (`knoxctl alerts`) never block the writer. NORMAL: a commit is an
        // append to the WAL without fsync; a power cut loses the last alerts, never the
        // database.
        self.conn
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 16 MiB of page cache holds the index pages that inserts touch (few: the indexes
        // grow at their ends or at a few hot spots).
        self.conn.pragma_update(None, "cache_size", -16_384)?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            let tx = self.conn.transaction()?;
            let tables: i64 =
                tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            // Never write our schema into somebody else's database.
            if tables == 0 {
                tx.execute_batch(&schema())?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            }
            tx.commit()?;
        } else if version == SCHEMA_VERSION {
            self.conn.execute_batch(DROPPED_INDEXES)?;
        }
        Ok(())
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
            });
        }
        if version == 0 {
            return Err(StoreError::NotAStore {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    fn read_last_id(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT max(coalesce((SELECT value FROM meta WHERE key = 'last_id'), 0), \
                            coalesce((SELECT max(id) FROM alerts), 0))",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Opens an existing store for reading; [`StoreError::Missing`] when there is none.
    pub fn open_readonly(state_dir: &Path) -> Result<Store, StoreError> {
        Self::open_readonly_kind(state_dir, StoreKind::Alerts)
    }

    /// [`Store::open_readonly`] for either store.
    pub fn open_readonly_kind(state_dir: &Path, kind: StoreKind) -> Result<Store, StoreError> {
        let path = Self::db_path_kind(state_dir, kind);
        // SQLite's "unable to open database file" does not say why; the OS does.
        if let Err(source) = std::fs::File::open(&path) {
            return Err(match source.kind() {
                std::io::ErrorKind::NotFound => StoreError::Missing { path },
                _ => StoreError::Unreadable { path, source },
            });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut store = Store::new(path, conn);
        store
            .conn
            .busy_timeout(Duration::from_secs(5))
            .map_err(|e| store.err(e))?;
        // Scans read the file through a mapping instead of a read() per page.
        store
            .conn
            .pragma_update(None, "mmap_size", 1i64 << 30)
            .map_err(|e| store.err(e))?;
        store.check_schema()?;
        store.last_id = store.read_last_id()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A write transaction that takes the write lock up front: upgrading a read transaction
    /// in WAL mode can fail with SQLITE_BUSY_SNAPSHOT without waiting on busy_timeout.
    fn write_tx(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
    }

    /// Writes alerts in one transaction, returning the id of the last.
    pub fn insert_batch(&mut self, alerts: &[Alert]) -> Result<i64, StoreError> {
        let packed: Vec<Packed> = alerts.iter().map(Packed::new).collect();
        self.insert_packed(&packed)
    }

    /// [`Store::insert_batch`] of packed alerts (what the writer thread receives).
    pub fn insert_packed(&mut self, alerts: &[Packed]) -> Result<i64, StoreError> {
        if self.intern.is_none() {
            let map = self.load_intern().map_err(|e| self.err(e))?;
            self.intern = Some(map);
        }
        match self.insert_batch_inner(alerts) {
            Ok(last) => {
                self.last_id = last;
                Ok(last)
            }
            Err(e) => {
                // Strings added by the rolled-back transaction are not in the database.
                self.intern = None;
                Err(self.err(e))
            }
        }
    }

    fn load_intern(&self) -> rusqlite::Result<HashMap<String, i64>> {
        let mut stmt = self.conn.prepare("SELECT s, id FROM strings")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    fn insert_batch_inner(&mut self, alerts: &[Packed]) -> rusqlite::Result<i64> {
        let mut id = self.last_id;
        let Store { conn, intern, .. } = self;
        let intern = intern.as_mut().expect("loaded by insert_batch");
        let tx = Self::write_tx(conn)?;
        {
            let mut ins = tx.prepare_cached(&INSERT)?;
            let mut ins_str = tx.prepare_cached("INSERT INTO strings (s) VALUES (?1)")?;
            let mut sid = |s: &[u8]| -> rusqlite::Result<i64> {
                if s.is_empty() {
                    return Ok(0);
                }
                let s = std::str::from_utf8(s)?;
                if let Some(&id) = intern.get(s) {
                    return Ok(id);
                }
                let id = ins_str.insert([s])?;
                intern.insert(s.to_owned(), id);
                Ok(id)
            };
            let mut atags = String::new();
            let mut severity_n: Option<i64> = None;
            let mut ids = [0i64; INTERNED_FIELDS];
            let mut prev: Option<View<'_>> = None;
            for p in alerts {
                {
                    let a = p.view();
                    id += 1;
                    // Consecutive alerts mostly share their text: compare before hashing.
                    for (k, s) in a.interned.iter().enumerate() {
                        if prev.is_none_or(|p| p.interned[k] != *s) {
                            ids[k] = sid(s)?;
                        }
                    }
                    if prev.is_none_or(|p| p.severity() != a.severity()) {
                        severity_n = std::str::from_utf8(a.severity())
                            .ok()
                            .and_then(|s| s.trim().parse::<i64>().ok());
                    }
                    // Their tags too: the JSON is made again only when they differ.
                    if prev.is_none_or(|p| p.atags != a.atags) {
                        atags.clear();
                        if a.has_atags() {
                            let tags = a
                                .atags()
                                .map(std::str::from_utf8)
                                .collect::<Result<Vec<&str>, _>>()?;
                            atags = serde_json::to_string(&tags)
                                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
                        }
                    }
                    prev = Some(a);
                    let [
                        cluster_name,
                        host_name,
                        namespace_name,
                        pod_name,
                        labels,
                        container_id,
                        container_name,
                        container_image,
                        parent_process_name,
                        process_name,
                        policy_name,
                        severity,
                        tags,
                        message,
                        kind,
                        operation,
                        data,
                        enforcer,
                        action,
                        result,
                        cwd,
                        tty,
                    ] = ids;
                    // The order of `Field::ALL`, as `insert_sql` names the columns.
                    let mut b = Binder {
                        stmt: &mut ins,
                        at: 0,
                    };
                    b.put(id)?;
                    b.put(a.timestamp)?;
                    b.put(Utf8(a.updated_time))?;
                    for n in [
                        cluster_name,
                        host_name,
                        namespace_name,
                        pod_name,
                        labels,
                        container_id,
                        container_name,
                        container_image,
                    ] {
                        b.put(n)?;
                    }
                    for n in [a.host_ppid, a.host_pid, a.ppid, a.pid, a.uid] {
                        b.put(n)?;
                    }
                    for n in [
                        parent_process_name,
                        process_name,
                        policy_name,
                        severity,
                        tags,
                    ] {
                        b.put(n)?;
                    }
                    b.put(atags.as_str())?;
                    b.put(message)?;
                    b.put(kind)?;
                    b.put(Utf8(a.source))?;
                    b.put(operation)?;
                    b.put(Utf8(a.resource))?;
                    for n in [data, enforcer, action, result, cwd, tty] {
                        b.put(n)?;
                    }
                    b.put(severity_n)?;
                    debug_assert_eq!(b.at, PARAMS_PER_ROW);
                }
                ins.raw_execute()?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_id', ?1)",
                [id],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Applies retention as of `now` (epoch seconds); returns how many alerts were deleted.
    pub fn prune(&mut self, retention: &Retention, now: i64) -> Result<u64, StoreError> {
        let last_id = self.last_id;
        Self::prune_inner(&mut self.conn, retention, now, last_id).map_err(|e| self.err(e))
    }

    fn prune_inner(
        conn: &mut Connection,
        retention: &Retention,
        now: i64,
        last_id: i64,
    ) -> rusqlite::Result<u64> {
        let tx = Self::write_tx(conn)?;
        let max_age = i64::try_from(retention.max_age.as_secs()).unwrap_or(i64::MAX);
        let mut deleted = tx.execute(
            "DELETE FROM alerts WHERE ts < ?1",
            [now.saturating_sub(max_age)],
        )? as u64;
        // Ids only grow, so the newest max_rows alerts have ids above last_id - max_rows.
        let keep = i64::try_from(retention.max_rows).unwrap_or(i64::MAX);
        let cut = last_id.saturating_sub(keep);
        if cut > 0 {
            deleted += tx.execute("DELETE FROM alerts WHERE id <= ?1", [cut])? as u64;
        }
        tx.commit()?;
        Ok(deleted)
    }

    /// Makes sure dictionary ids up to `id` (or all, with None) are loaded.
    fn load_names(&self, upto: Option<i64>) -> Result<(), StoreError> {
        let mut names = self.names.borrow_mut();
        if upto.is_some_and(|id| (id as usize) < names.len()) {
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, s FROM strings WHERE id >= ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([names.len() as i64]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.err(e))?;
            let s: String = row.get(1).map_err(|e| self.err(e))?;
            // Ids are dense (rowids of a table nothing is deleted from); fill any gap left
            // by a rolled-back insert so that the index stays the id.
            while (names.len() as i64) < id {
                names.push(String::new());
            }
            names.push(s);
        }
        Ok(())
    }

    fn name(&self, id: i64) -> Result<String, StoreError> {
        self.load_names(Some(id))?;
        self.names
            .borrow()
            .get(usize::try_from(id).unwrap_or(usize::MAX))
            .cloned()
            .ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("string {id} is missing from the dictionary"),
            })
    }

    /// Rebuilds an alert from `all_columns()` starting at column `at`.
    fn alert_from_row(&self, row: &Row<'_>, at: usize) -> Result<Alert, StoreError> {
        let int =
            |i: usize| -> Result<i64, StoreError> { row.get(at + i).map_err(|e| self.err(e)) };
        let int32 =
            |i: usize| -> Result<i32, StoreError> { row.get(at + i).map_err(|e| self.err(e)) };
        let text =
            |i: usize| -> Result<String, StoreError> { row.get(at + i).map_err(|e| self.err(e)) };
        let name = |i: usize| -> Result<String, StoreError> { self.name(int(i)?) };
        let atags = text(20)?;
        let atags = if atags.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(&atags).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("ATags {atags:?}: {e}"),
            })?
        };
        Ok(Alert {
            timestamp: int(0)?,
            updated_time: text(1)?,
            cluster_name: name(2)?,
            host_name: name(3)?,
            namespace_name: name(4)?,
            pod_name: name(5)?,
            labels: name(6)?,
            container_id: name(7)?,
            container_name: name(8)?,
            container_image: name(9)?,
            host_ppid: int32(10)?,
            host_pid: int32(11)?,
            ppid: int32(12)?,
            pid: int32(13)?,
            uid: int32(14)?,
            parent_process_name: name(15)?,
            process_name: name(16)?,
            policy_name: name(17)?,
            severity: name(18)?,
            tags: name(19)?,
            atags,
            message: name(21)?,
            kind: name(22)?,
            source: text(23)?,
            operation: name(24)?,
            resource: text(25)?,
            data: name(26)?,
            enforcer: name(27)?,
            action: name(28)?,
            result: name(29)?,
            cwd: name(30)?,
            tty: name(31)?,
        })
    }

    /// The id of a dictionary string, -1 (matching no row) when it was never stored.
    fn string_id(&self, s: &str) -> Result<i64, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM strings WHERE s = ?1")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([s]).map_err(|e| self.err(e))?;
        match rows.next().map_err(|e| self.err(e))? {
            Some(row) => row.get(0).map_err(|e| self.err(e)),
            None => Ok(-1),
        }
    }

    fn plan<'q>(&self, q: &'q Query) -> Result<Plan<'q>, StoreError> {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        let mut in_rust = Vec::new();
        let mut columns: Vec<&'static str> = Vec::new();
        if let Some(since) = q.since {
            conds.push("a.ts >= ?".to_string());
            params.push(Value::Integer(since));
        }
        if let Some(until) = q.until {
            conds.push("a.ts <= ?".to_string());
            params.push(Value::Integer(until));
        }
        for f in &q.filters {
            let col = column(f.field);
            match (kind(f.field), &f.operand) {
                (_, Operand::Int(n)) => {
                    let col = if f.field == Field::Severity {
                        "severity_n"
                    } else {
                        col
                    };
                    conds.push(format!("a.{col} {} ?", sql_op(f.op)));
                    params.push(Value::Integer(*n));
                }
                (Kind::Interned, Operand::Text(s)) => {
                    conds.push(format!("a.{col} {} ?", sql_op(f.op)));
                    params.push(Value::Integer(self.string_id(s)?));
                }
                // The regex runs once per distinct value; the rows are then an IN list.
                (Kind::Interned, Operand::Regex(re)) => {
                    self.load_names(None)?;
                    let ids: Vec<String> = self
                        .names
                        .borrow()
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| re.is_match(s))
                        .map(|(i, _)| i.to_string())
                        .collect();
                    let negated = f.op == Op::NotRegex;
                    conds.push(match (ids.is_empty(), negated) {
                        (true, false) => "0".to_string(),
                        (true, true) => "1".to_string(),
                        (false, false) => format!("a.{col} IN ({})", ids.join(",")),
                        (false, true) => format!("a.{col} NOT IN ({})", ids.join(",")),
                    });
                }
                (Kind::Text, Operand::Text(s)) if f.field != Field::ATags => {
                    conds.push(format!("a.{col} {} ?", sql_op(f.op)));
                    params.push(Value::Text(s.clone()));
                }
                _ => {
                    let idx = columns.iter().position(|c| *c == col).unwrap_or_else(|| {
                        columns.push(col);
                        columns.len() - 1
                    });
                    in_rust.push((f, idx));
                }
            }
        }
        let where_sql = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        Ok(Plan {
            where_sql,
            params,
            in_rust,
            columns,
        })
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM alerts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// The id of the newest alert written (0 for a new store), read afresh; `alerts tail`
    /// starts here.
    pub fn last_id(&self) -> Result<i64, StoreError> {
        self.read_last_id()
    }

    /// Calls `f` with the id and alert of each alert written after `after_id`, in the order
    /// written, at most `max` of them; returns the last id seen (or `after_id`).
    pub fn for_each_after<E: From<StoreError>>(
        &self,
        after_id: i64,
        max: usize,
        mut f: impl FnMut(i64, &Alert) -> Result<(), E>,
    ) -> Result<i64, E> {
        let sql = format!(
            "SELECT a.id, {} FROM alerts a WHERE a.id > ?1 ORDER BY a.id LIMIT ?2",
            all_columns()
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![after_id, max as i64])
            .map_err(|e| self.err(e))?;
        let mut last = after_id;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.err(e))?;
            let alert = self.alert_from_row(row, 1)?;
            f(id, &alert)?;
            last = id;
        }
        Ok(last)
    }

    /// The alerts a query selects, in chronological order.
    pub fn query(&self, q: &Query) -> Result<Vec<Alert>, StoreError> {
        let mut out = Vec::new();
        self.query_each(q, |_, a| {
            out.push(a.clone());
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// Calls `f` with the id and alert of each alert a query selects, in chronological
    /// order, streaming where the order allows.
    pub fn query_each<E: From<StoreError>>(
        &self,
        q: &Query,
        mut f: impl FnMut(i64, &Alert) -> Result<(), E>,
    ) -> Result<(), E> {
        if q.limit == Some(0) {
            return Ok(());
        }
        // One read transaction: the dictionary and the rows come from the same snapshot.
        let _snapshot = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let plan = self.plan(q)?;
        if plan.in_rust.is_empty() {
            return self.query_sql_only(&plan, q.limit, &mut f);
        }
        let ids = match q.limit {
            // The newest matches come first walking backwards: stop after `limit`.
            Some(limit) => {
                let mut ids = Vec::with_capacity(limit.min(4096));
                self.scan(&plan, true, |_, id| {
                    ids.push(id);
                    ids.len() < limit
                })?;
                ids.reverse();
                ids
            }
            // Without a limit every row is looked at anyway; the table's own order is the
            // fastest to read, and sorting the matching keys afterwards is cheap.
            None => {
                let mut keys = Vec::new();
                self.scan(&plan, false, |ts, id| {
                    keys.push((ts, id));
                    true
                })?;
                keys.sort_unstable();
                keys.into_iter().map(|(_, id)| id).collect()
            }
        };
        self.for_each_id(&ids, &mut f)
    }

    fn query_sql_only<E: From<StoreError>>(
        &self,
        plan: &Plan<'_>,
        limit: Option<usize>,
        f: &mut impl FnMut(i64, &Alert) -> Result<(), E>,
    ) -> Result<(), E> {
        if let Some(limit) = limit {
            let sql = format!(
                "SELECT a.id FROM alerts a{} ORDER BY a.ts DESC, a.id DESC LIMIT {limit}",
                plan.where_sql
            );
            let mut ids = self.ids(&sql, &plan.params)?;
            ids.reverse();
            return self.for_each_id(&ids, f);
        }
        let sql = format!(
            "SELECT a.id, {} FROM alerts a{} ORDER BY a.ts, a.id",
            all_columns(),
            plan.where_sql
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params_from_iter(plan.params.iter()))
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.err(e))?;
            let alert = self.alert_from_row(row, 1)?;
            f(id, &alert)?;
        }
        Ok(())
    }

    fn ids(&self, sql: &str, params: &[Value]) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let ids = stmt
            .query_map(params_from_iter(params.iter()), |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<i64>>>())
            .map_err(|e| self.err(e))?;
        Ok(ids)
    }

    fn for_each_id<E: From<StoreError>>(
        &self,
        ids: &[i64],
        f: &mut impl FnMut(i64, &Alert) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = format!("SELECT {} FROM alerts a WHERE a.id = ?1", all_columns());
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        for &id in ids {
            let mut rows = stmt.query([id]).map_err(|e| self.err(e))?;
            // A row deleted by retention since the scan is simply gone.
            if let Some(row) = rows.next().map_err(|e| self.err(e))? {
                let alert = self.alert_from_row(row, 0)?;
                f(id, &alert)?;
            }
        }
        Ok(())
    }

    /// Walks the rows that pass the SQL part of the plan, evaluates the Rust part on the
    /// columns it needs, and calls `keep(ts, id)` for each match until it returns false.
    fn scan(
        &self,
        plan: &Plan<'_>,
        newest_first: bool,
        mut keep: impl FnMut(i64, i64) -> bool,
    ) -> Result<(), StoreError> {
        let mut sql = String::from("SELECT a.ts, a.id");
        for c in &plan.columns {
            sql.push_str(", a.");
            sql.push_str(c);
        }
        sql.push_str(" FROM alerts a");
        sql.push_str(&plan.where_sql);
        if newest_first {
            sql.push_str(" ORDER BY a.ts DESC, a.id DESC");
        }
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params_from_iter(plan.params.iter()))
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            if !plan.matches(row, 2) {
                continue;
            }
            let ts: i64 = row.get(0).map_err(|e| self.err(e))?;
            let id: i64 = row.get(1).map_err(|e| self.err(e))?;
            if !keep(ts, id) {
                break;
            }
        }
        Ok(())
    }
}

/// Tuning of the writer thread. The defaults suit the agent; tests shrink them.
#[derive(Clone, Copy, Debug)]
pub struct WriterOptions {
    /// Alerts queued between producers and the writer; more are dropped and counted.
    pub capacity: usize,
    /// Most alerts per transaction.
    pub max_batch: usize,
    /// Longest an alert waits in a partial batch before it is committed.
    pub flush_interval: Duration,
    /// How often retention runs while alerts arrive (also at start and at shutdown); an
    /// idle store, whose alerts can only age out, is pruned every `IDLE_PRUNE`.
    pub prune_interval: Duration,
    /// Bursts past a rate per policy and container folded into summary alerts (off by
    /// default).
    pub throttle: super::throttle::ThrottleOptions,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            capacity: 16_384,
            max_batch: 8_192,
            // Short: `alerts tail` prints an alert no sooner than its commit. Under a flood
            // batches fill to max_batch long before this.
            flush_interval: Duration::from_millis(10),
            prune_interval: Duration::from_secs(10),
            throttle: super::throttle::ThrottleOptions::default(),
        }
    }
}

/// Wakes a reader when the writer commits: inotify on the state directory, where every
/// commit writes the write-ahead log. A reader that polled would add its poll interval to
/// every alert's latency (`alerts tail`, forwarders).
pub struct CommitWatch {
    fd: std::os::fd::OwnedFd,
}

impl CommitWatch {
    pub fn new(state_dir: &Path) -> std::io::Result<CommitWatch> {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: plain syscalls; the fd is owned from here on.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new fd nobody else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let path = std::ffi::CString::new(state_dir.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        use std::os::fd::AsRawFd;
        // SAFETY: valid fd and NUL-terminated path.
        let wd = unsafe {
            libc::inotify_add_watch(
                fd.as_raw_fd(),
                path.as_ptr(),
                libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO,
            )
        };
        if wd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(CommitWatch { fd })
    }

    /// Waits until something in the state directory changed, or `timeout`, or a signal.
    /// Returns whether a change was seen (the caller reads the store either way).
    pub fn wait(&self, timeout: Duration) -> bool {
        self.wait_or(None, timeout)
    }

    /// As [`CommitWatch::wait`], and also ends when `also` becomes readable (a thread's
    /// stop signal: an eventfd), which the caller then looks at and clears itself.
    pub fn wait_or(&self, also: Option<std::os::fd::RawFd>, timeout: Duration) -> bool {
        use std::os::fd::AsRawFd;
        let pfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [pfd(self.fd.as_raw_fd()), pfd(also.unwrap_or(-1))];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: valid pollfds (a negative fd is ignored by poll).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n <= 0 || fds[0].revents == 0 {
            return false;
        }
        // Drain: one wake-up per look at the store, however many writes happened.
        let mut buf = [0u8; 4096];
        // SAFETY: reads into a local buffer of its length.
        while unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        true
    }
}

/// Counters of the writer, for `agent` status and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Alerts committed to the store.
    pub stored: u64,
    /// Alerts refused because the queue was full or the writer had stopped.
    pub dropped: u64,
    /// Alerts lost because their batch failed to commit (disk full, I/O error).
    pub failed: u64,
    /// Alerts deleted by retention.
    pub pruned: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Alerts folded into summary alerts by throttling (each summary says how many).
    pub folded: u64,
}

#[derive(Default)]
struct Counters {
    stored: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    pruned: AtomicU64,
    batches: AtomicU64,
    folded: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> StoreStats {
        StoreStats {
            stored: self.stored.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            pruned: self.pruned.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            folded: self.folded.load(Ordering::Relaxed),
        }
    }
}

/// What travels to the writer thread. `Stop` comes in the queue rather than through a
/// flag, so that an idle writer sleeps in `recv` instead of waking up to look at one.
/// Alerts travel packed (see [`Packed`]): one buffer, made and filled on the sender's
/// thread while the alert's strings are still in its cache.
enum Msg {
    Alert(Packed),
    Stop,
}

/// The producer side of the writer's queue; clone it for each producer.
#[derive(Clone)]
pub struct AlertSender {
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
}

impl AlertSender {
    /// Queues an alert without blocking. Returns false, and counts the alert as dropped, when
    /// the queue is full or the writer has stopped.
    pub fn send(&self, alert: Alert) -> bool {
        match self.tx.try_send(Msg::Alert(Packed::new(&alert))) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Queues an alert, waiting while the queue is full: for bulk loads that must lose
    /// nothing, never for an enforcement path. Returns false (counted as dropped) when the
    /// writer has stopped.
    pub fn send_wait(&self, alert: Alert) -> bool {
        let ok = self.tx.send(Msg::Alert(Packed::new(&alert))).is_ok();
        if !ok {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

/// The writer thread. Dropping it without [`AlertWriter::shutdown`] also stops it and
/// flushes, but cannot report an error.
pub struct AlertWriter {
    handle: Option<JoinHandle<()>>,
    /// Sends `Stop`; behind any alert already queued, which is therefore committed.
    stop: SyncSender<Msg>,
    counters: Arc<Counters>,
}

impl AlertWriter {
    /// Opens (creating if needed) the store in `state_dir` and starts the writer thread.
    pub fn spawn(
        state_dir: &Path,
        retention: Retention,
    ) -> Result<(AlertWriter, AlertSender), StoreError> {
        Self::spawn_with(state_dir, retention, WriterOptions::default())
    }

    pub fn spawn_with(
        state_dir: &Path,
        retention: Retention,
        options: WriterOptions,
    ) -> Result<(AlertWriter, AlertSender), StoreError> {
        Self::spawn_hooked(state_dir, retention, options, None)
    }

    /// As `spawn_with`, and `on_commit` sees every batch once it is committed.
    pub fn spawn_hooked(
        state_dir: &Path,
        retention: Retention,
        options: WriterOptions,
        on_commit: Option<CommitHook>,
    ) -> Result<(AlertWriter, AlertSender), StoreError> {
        Self::spawn_kind(state_dir, StoreKind::Alerts, retention, options, on_commit)
    }

    /// As `spawn_hooked`, for either store: each kind has its own writer thread and queue.
    pub fn spawn_kind(
        state_dir: &Path,
        kind: StoreKind,
        retention: Retention,
        options: WriterOptions,
        on_commit: Option<CommitHook>,
    ) -> Result<(AlertWriter, AlertSender), StoreError> {
        let store = Store::open_kind(state_dir, kind)?;
        // Checkpoints (copying the WAL into the database, with two fsyncs) run on their own
        // thread: on the writer they were more than half of its time, spent waiting on the
        // disk while the queue filled.
        store
            .conn
            .execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;")
            .map_err(|e| store.err(e))?;
        let checkpoint_conn = Connection::open(&store.path).map_err(|e| store.err(e))?;
        checkpoint_conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(|e| store.err(e))?;
        // One pending "something was committed" is enough: the checkpointer copies
        // whatever the WAL holds by then.
        let (committed, commits) = mpsc::sync_channel::<()>(1);
        let checkpointer = std::thread::Builder::new()
            .name(format!("{}-checkpoint", kind.thread()))
            .spawn(move || checkpoint_loop(checkpoint_conn, commits))
            .map_err(StoreError::Thread)?;
        let (tx, rx) = mpsc::sync_channel(options.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            store,
            rx,
            counters: counters.clone(),
            retention,
            throttle: super::throttle::Throttle::new(options.throttle),
            spare: Vec::new(),
            unpacked: Vec::new(),
            options,
            checkpointer: Some((checkpointer, committed)),
            on_commit,
        };
        // If the spawn fails, the worker is dropped with the checkpointer's sender, which
        // ends that thread too.
        let handle = std::thread::Builder::new()
            .name(format!("{}-writer", kind.thread()))
            .spawn(move || worker.run())
            .map_err(StoreError::Thread)?;
        Ok((
            AlertWriter {
                handle: Some(handle),
                stop: tx.clone(),
                counters: counters.clone(),
            },
            AlertSender { tx, counters },
        ))
    }

    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    /// A way to read the counters from another thread while the writer runs.
    pub fn stats_handle(&self) -> impl Fn() -> StoreStats + Send + Sync + 'static {
        let counters = self.counters.clone();
        move || counters.snapshot()
    }

    /// Commits everything queued so far, applies retention and stops the thread. Alerts sent
    /// afterwards are counted as dropped.
    pub fn shutdown(mut self) -> StoreStats {
        self.stop_and_join();
        self.counters.snapshot()
    }

    fn stop_and_join(&mut self) {
        if let Some(h) = self.handle.take() {
            // Waits for room in a full queue, which the writer is draining; fails only when
            // the writer is already gone.
            let _ = self.stop.send(Msg::Stop);
            let _ = h.join();
        }
    }
}

impl Drop for AlertWriter {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

struct Worker {
    store: Store,
    rx: Receiver<Msg>,
    counters: Arc<Counters>,
    retention: Retention,
    options: WriterOptions,
    throttle: Option<super::throttle::Throttle>,
    /// The throttle's second batch, reused.
    spare: Vec<Alert>,
    /// The batch unpacked, for throttling and the commit hook only.
    unpacked: Vec<Alert>,
    /// The checkpointer thread, and the channel that wakes it after a commit (dropped to
    /// stop it).
    checkpointer: Option<(JoinHandle<()>, SyncSender<()>)>,
    on_commit: Option<CommitHook>,
}

/// Told about each batch the writer committed (the gRPC API streams them to its clients):
/// only what is stored is streamed, in the store's order. It runs on the writer's thread,
/// so it must never wait.
pub type CommitHook = Box<dyn FnMut(&[Alert]) + Send>;

/// WAL frames (8 KiB pages) beyond which the checkpointer makes the writer wait until the
/// WAL is copied and restarted: under a sustained flood a passive checkpoint never catches
/// up, and the WAL would grow without bound.
const WAL_RESTART_FRAMES: i64 = 32_768;

/// Pause between a commit and the checkpoint it triggers: under a flood, one checkpoint
/// per CHECKPOINT_PACE copies many batches at once.
const CHECKPOINT_PACE: Duration = Duration::from_millis(100);

/// Copies the WAL into the database in the background after commits, until the writer
/// drops its end of `commits`. Sleeps while nothing is written.
fn checkpoint_loop(conn: Connection, commits: Receiver<()>) {
    let checkpoint = |mode: &str| -> rusqlite::Result<i64> {
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
    };
    while commits.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_PACE);
        match checkpoint("PASSIVE") {
            Ok(frames) if frames > WAL_RESTART_FRAMES => {
                if let Err(e) = checkpoint("RESTART") {
                    tracing::warn!("alert store checkpoint failed: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("alert store checkpoint failed: {e}"),
        }
    }
}

/// The writer's pause while a batch fills and the queue is empty: short against the
/// queue's capacity (4,096 alerts in the agent: at 300,000 alerts/s, 1 ms brings 300).
const FILL_NAP: Duration = Duration::from_millis(1);

/// How often an idle store is pruned: its alerts can only age out (`max_age`), which needs
/// no hurry, and a quiet agent should stay asleep.
const IDLE_PRUNE: Duration = Duration::from_secs(600);

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<Packed> = Vec::with_capacity(self.options.max_batch.min(65_536));
        self.prune();
        let mut next_prune = Instant::now() + self.options.prune_interval;
        // Whether anything was committed since the last prune.
        let mut written = false;
        let mut open = true;
        while open {
            let wake = match self.throttle.as_ref().and_then(|t| t.next_due()) {
                Some(due) => due.min(next_prune),
                None => next_prune,
            };
            let wait = wake.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Alert(a)) => batch.push(a),
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => open = false,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if !batch.is_empty() {
                open &= self.fill(&mut batch);
            }
            self.fold_bursts(&mut batch, false);
            if !batch.is_empty() {
                self.commit(&mut batch);
                written = true;
            }
            if Instant::now() >= next_prune {
                self.prune();
                let pause = if written {
                    self.options.prune_interval
                } else {
                    IDLE_PRUNE.max(self.options.prune_interval)
                };
                next_prune = Instant::now() + pause;
                written = false;
            }
        }
        // Shutting down: commit what is already queued, without waiting for more.
        let mut drained = false;
        while !drained {
            while batch.len() < self.options.max_batch {
                match self.rx.try_recv() {
                    Ok(Msg::Alert(a)) => batch.push(a),
                    Ok(Msg::Stop) => {}
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        drained = true;
                        break;
                    }
                }
            }
            // Not "until a batch is empty": throttling may fold a whole batch away while
            // more alerts wait in the queue.
            self.fold_bursts(&mut batch, false);
            if !batch.is_empty() {
                self.commit(&mut batch);
            }
        }
        // Every fold still gathering is written: throttling never loses an alert.
        self.fold_bursts(&mut batch, true);
        if !batch.is_empty() {
            self.commit(&mut batch);
        }
        self.prune();
        if let Some((handle, committed)) = self.checkpointer.take() {
            drop(committed);
            let _ = handle.join();
        }
        // Leave a small WAL behind: readers then find everything in the database file.
        if let Err(e) = self
            .store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::warn!("alert store checkpoint failed: {e}");
        }
    }

    /// Adds queued alerts to a started batch until it is full or its flush time comes.
    /// Returns false when told to stop or when every sender is gone.
    ///
    /// It naps instead of waiting in `recv`: a receiver waiting in the queue makes every
    /// producer's send wake it (a futex call and a context switch per alert, which on one
    /// core cost about as much as storing the alert); napping, it takes what came in bulk.
    fn fill(&self, batch: &mut Vec<Packed>) -> bool {
        let deadline = Instant::now() + self.options.flush_interval;
        while batch.len() < self.options.max_batch {
            match self.rx.try_recv() {
                Ok(Msg::Alert(a)) => batch.push(a),
                Ok(Msg::Stop) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    std::thread::sleep(FILL_NAP.min(deadline - now));
                }
            }
        }
        true
    }

    /// Folds what is over the rate limit out of `batch` and adds the summaries that are
    /// due (all of them with `all`).
    fn fold_bursts(&mut self, batch: &mut Vec<Packed>, all: bool) {
        let Some(t) = &mut self.throttle else {
            return;
        };
        let now = Instant::now();
        let before = t.folded;
        let mut passed = std::mem::take(&mut self.spare);
        for a in batch.drain(..) {
            t.admit(a.unpack(), now, &mut passed);
        }
        t.due(now, all, &mut passed);
        self.counters
            .folded
            .fetch_add(t.folded - before, Ordering::Relaxed);
        batch.extend(passed.iter().map(Packed::new));
        passed.clear();
        self.spare = passed;
    }

    fn commit(&mut self, batch: &mut Vec<Packed>) {
        let n = batch.len() as u64;
        match self.store.insert_packed(batch) {
            Ok(_) => {
                self.counters.stored.fetch_add(n, Ordering::Relaxed);
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
                if let Some((_, committed)) = &self.checkpointer {
                    // Full means a checkpoint is already pending, which copies this too.
                    let _ = committed.try_send(());
                }
                if let Some(hook) = &mut self.on_commit {
                    self.unpacked.extend(batch.iter().map(Packed::unpack));
                    hook(&self.unpacked);
                    self.unpacked.clear();
                }
            }
            Err(e) => {
                self.counters.failed.fetch_add(n, Ordering::Relaxed);
                tracing::warn!("{n} alerts not stored: {e}");
            }
        }
        batch.clear();
    }

    fn prune(&mut self) {
        match self.store.prune(&self.retention, now_epoch()) {
            Ok(n) => {
                self.counters.pruned.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!("alert retention failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "knoxctl-store-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A varied, deterministic set of alerts: every filter shape below selects some.
    fn alerts(n: usize) -> Vec<Alert> {
        let policies = [
            "block-pkg-mgmt-tools",
            "file-integrity-monitoring",
            "",
            "audit-ps",
        ];
        let actions = ["Block", "Audit", "Allow", "Audit (Block)"];
        let resources = [
            "/usr/bin/apt",
            "/usr/lib/test_file",
            "/etc/shadow",
            "/usr/bin/ps",
        ];
        (0..n)
            .map(|i| Alert {
                // Out of order on purpose: chronological order is by Timestamp.
                timestamp: 1_717_000_000 + ((i * 7919) % n) as i64 / 3,
                host_name: format!("host-{}", i % 3),
                pid: (i % 500) as i32,
                host_pid: 1000 + i as i32,
                uid: (i % 2) as i32 * 1000,
                policy_name: policies[i % 4].into(),
                action: actions[(i / 4) % 4].into(),
                resource: resources[(i / 2) % 4].into(),
                process_name: resources[(i / 2) % 4].into(),
                operation: if i % 5 == 0 { "File" } else { "Process" }.into(),
                severity: match i % 6 {
                    0 => String::new(),
                    1 => "high".into(),
                    k => k.to_string(),
                },
                message: format!("event number {i}"),
                atags: if i % 2 == 0 {
                    vec!["MITRE".into()]
                } else {
                    vec![]
                },
                kind: "MatchedHostPolicy".into(),
                ..Alert::default()
            })
            .collect()
    }

    fn expected(all: &[Alert], q: &Query) -> Vec<Alert> {
        let mut v: Vec<(usize, &Alert)> = all
            .iter()
            .enumerate()
            .filter(|(_, a)| q.since.is_none_or(|s| a.timestamp >= s))
            .filter(|(_, a)| q.until.is_none_or(|u| a.timestamp <= u))
            .filter(|(_, a)| q.filters.iter().all(|f| f.matches(a)))
            .collect();
        v.sort_by_key(|(i, a)| (a.timestamp, *i));
        let skip = q.limit.map_or(0, |l| v.len().saturating_sub(l));
        v.into_iter().skip(skip).map(|(_, a)| a.clone()).collect()
    }

    /// The two kinds are separate files with separate writers and ids: logs written (and
    /// pruned) never show among the alerts, and both can be written at once.
    #[test]
    fn kinds_are_separate_stores() {
        let dir = scratch("kinds");
        let retention = Retention {
            max_age: Duration::from_secs(3650 * 86_400),
            max_rows: 2,
        };
        let (alerts_w, alerts_tx) = AlertWriter::spawn(&dir, Retention::default()).unwrap();
        let (logs_w, logs_tx) = AlertWriter::spawn_kind(
            &dir,
            StoreKind::Logs,
            retention,
            WriterOptions::default(),
            None,
        )
        .unwrap();
        let now = now_epoch();
        let mut log = Alert {
            timestamp: now,
            kind: "HostLog".into(),
            ..Alert::default()
        };
        for i in 0..5 {
            log.resource = format!("/log/{i}");
            assert!(logs_tx.send(log.clone()));
        }
        let alert = Alert {
            timestamp: now,
            kind: "MatchedHostPolicy".into(),
            ..Alert::default()
        };
        assert!(alerts_tx.send(alert.clone()));
        assert_eq!(logs_w.shutdown().stored, 5);
        assert_eq!(alerts_w.shutdown().stored, 1);
        assert!(dir.join(LOGS_DB_FILE).exists());
        let logs = Store::open_readonly_kind(&dir, StoreKind::Logs).unwrap();
        // Retention (two rows) ran at shutdown: the newest two are left.
        let kept: Vec<String> = logs
            .query(&Query::default())
            .unwrap()
            .into_iter()
            .map(|a| a.resource)
            .collect();
        assert_eq!(kept, ["/log/3", "/log/4"]);
        let alerts = Store::open_readonly(&dir)
            .unwrap()
            .query(&Query::default())
            .unwrap();
        assert_eq!(alerts, vec![alert]);
        // A second writer of the same kind is refused; of the other kind it is not.
        let _w = Store::open_kind(&dir, StoreKind::Logs).unwrap();
        assert!(matches!(
            Store::open_kind(&dir, StoreKind::Logs),
            Err(StoreError::Locked { .. })
        ));
        Store::open(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn queries_agree_with_filter_semantics() {
        let dir = scratch("agree");
        let all = alerts(2000);
        let mut store = Store::open(&dir).unwrap();
        for chunk in all.chunks(333) {
            store.insert_batch(chunk).unwrap();
        }
        let exprs: &[&[&str]] = &[
            &[],
            &["PolicyName=block-pkg-mgmt-tools"],
            &["PolicyName="],
            &["Action!=Block"],
            &["Resource~^/usr/"],
            &["Severity>=3"],
            &["Severity!=3"],
            &["Severity~^h"],
            &["Message~number 1[0-9]$"],
            &["ATags=MITRE", "UID=1000"],
            &["Operation=File", "Action=Audit", "Resource~shadow"],
            &["PID<10", "HostName!=host-1"],
            &["Timestamp>1717000300", "Timestamp<=1717000500"],
            &["ProcessName~ps$", "Severity<5", "Message~7"],
            &["Resource!~^/usr/"],
            &["PolicyName!~pkg", "Message!~7"],
            &["ATags!~MITRE"],
            &["Severity!~^1"],
            &["HostName!~nothing-matches-this"],
        ];
        for filters in exprs {
            for limit in [None, Some(0), Some(1), Some(7), Some(5000)] {
                for (since, until) in [
                    (None, None),
                    (Some(1_717_000_400), None),
                    (None, Some(1_717_000_550)),
                    (Some(1_717_000_400), Some(1_717_000_550)),
                ] {
                    let q = Query {
                        filters: filters.iter().map(|e| Filter::parse(e).unwrap()).collect(),
                        since,
                        until,
                        limit,
                    };
                    let got = store.query(&q).unwrap();
                    let want = expected(&all, &q);
                    assert_eq!(
                        got.len(),
                        want.len(),
                        "{filters:?} {limit:?} {since:?} {until:?}"
                    );
                    assert!(got == want, "{filters:?} {limit:?} {since:?} {until:?}");
                }
            }
        }
        let ro = Store::open_readonly(&dir).unwrap();
        assert_eq!(ro.count().unwrap(), 2000);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn equality_filters_use_the_indexes() {
        let dir = scratch("plan");
        let store = Store::open(&dir).unwrap();
        let q = Query {
            filters: vec![Filter::parse("PolicyName=x").unwrap()],
            limit: Some(10),
            ..Query::default()
        };
        let plan = store.plan(&q).unwrap();
        assert!(plan.in_rust.is_empty());
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT a.id FROM alerts a{} ORDER BY a.ts DESC, a.id DESC LIMIT 10",
            plan.where_sql
        );
        let mut stmt = store.conn.prepare(&sql).unwrap();
        let details: Vec<String> = stmt
            .query_map(params_from_iter(plan.params.iter()), |r| r.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let text = details.join("\n");
        assert!(text.contains("alerts_policy_name"), "{text}");
        assert!(
            !text.contains("TEMP B-TREE"),
            "sorts instead of walking the index: {text}"
        );
        drop(stmt);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_writer_drops_the_indexes_of_older_versions() {
        let dir = scratch("old-indexes");
        let indexes = |store: &Store| -> Vec<String> {
            let mut stmt = store
                .conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'alerts_%' ORDER BY name")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        {
            let store = Store::open(&dir).unwrap();
            assert_eq!(indexes(&store), ["alerts_policy_name", "alerts_ts"]);
            // As a store written by an earlier version has them.
            store
                .conn
                .execute_batch(
                    "CREATE INDEX alerts_process_name ON alerts (process_name, ts);
                     CREATE INDEX alerts_action ON alerts (action, ts);",
                )
                .unwrap();
        }
        let old = Store::open_readonly(&dir).unwrap();
        assert_eq!(indexes(&old).len(), 4, "a reader changes nothing");
        drop(old);
        let store = Store::open(&dir).unwrap();
        assert_eq!(indexes(&store), ["alerts_policy_name", "alerts_ts"]);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_store_and_foreign_files_are_errors() {
        let dir = scratch("missing");
        assert!(matches!(
            Store::open_readonly(&dir),
            Err(StoreError::Missing { .. })
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Connection::open(dir.join(DB_FILE))
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            Store::open_readonly(&dir),
            Err(StoreError::NotAStore { .. })
        ));
        // The writer does not take over somebody else's database either.
        assert!(matches!(
            Store::open(&dir),
            Err(StoreError::NotAStore { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_writer_at_a_time() {
        let dir = scratch("lock");
        let first = Store::open(&dir).unwrap();
        assert!(matches!(Store::open(&dir), Err(StoreError::Locked { .. })));
        // Readers are not writers.
        Store::open_readonly(&dir).unwrap();
        drop(first);
        Store::open(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn retention_by_age_and_count() {
        let dir = scratch("retention");
        let mut store = Store::open(&dir).unwrap();
        let now = 1_800_000_000;
        let mut batch = alerts(100);
        for (i, a) in batch.iter_mut().enumerate() {
            a.timestamp = if i < 30 { now - 7200 } else { now - 10 };
        }
        store.insert_batch(&batch).unwrap();
        let r = Retention {
            max_age: Duration::from_secs(3600),
            max_rows: 50,
        };
        assert_eq!(store.prune(&r, now).unwrap(), 50);
        let left = store.query(&Query::default()).unwrap();
        assert_eq!(left, batch[50..].to_vec());
        // Ids keep growing after everything is gone, so a tail never misses new alerts.
        let last = store.last_id().unwrap();
        store
            .prune(
                &Retention {
                    max_age: Duration::ZERO,
                    max_rows: 0,
                },
                now,
            )
            .unwrap();
        assert_eq!(store.count().unwrap(), 0);
        let id = store.insert_batch(&batch[..1]).unwrap();
        assert!(id > last);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writer_stores_and_tail_follows_in_order() {
        let dir = scratch("writer");
        let (writer, tx) = AlertWriter::spawn(&dir, Retention::default()).unwrap();
        let mut all = alerts(500);
        for a in &mut all {
            a.timestamp = now_epoch();
        }
        for a in &all {
            assert!(tx.send(a.clone()));
        }
        let stats = writer.shutdown();
        assert_eq!(stats.stored, 500);
        assert_eq!(stats.dropped, 0);
        assert!(!tx.send(all[0].clone()), "a stopped writer takes nothing");
        let store = Store::open_readonly(&dir).unwrap();
        let mut seen = Vec::new();
        let last = store
            .for_each_after(0, 10_000, |_, a| {
                seen.push(a.clone());
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(seen, all);
        assert_eq!(last, store.last_id().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let dir = scratch("dropped");
        let options = WriterOptions {
            capacity: 8,
            max_batch: 8,
            ..WriterOptions::default()
        };
        let keep_all = Retention {
            max_age: Duration::from_secs(u64::MAX / 2),
            max_rows: u64::MAX,
        };
        let (writer, tx) = AlertWriter::spawn_with(&dir, keep_all, options).unwrap();
        // Another writer holds the database, so the writer thread stalls in its commit.
        let blocker = Connection::open(dir.join(DB_FILE)).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let sent = 10_000;
        let mut accepted = 0;
        for a in alerts(sent) {
            accepted += usize::from(tx.send(a));
        }
        blocker.execute_batch("COMMIT").unwrap();
        let stats = writer.shutdown();
        assert!(accepted <= 8 + 8 + 8, "accepted {accepted}");
        assert_eq!(stats.dropped as usize, sent - accepted);
        assert_eq!(stats.stored as usize, accepted);
        assert_eq!(
            Store::open_readonly(&dir).unwrap().count().unwrap() as usize,
            accepted
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
