//! The alert store: an embedded SQLite database at `<state-dir>/alerts.db` that the agent
//! writes through [`AlertWriter`] and `knoxctl alerts` reads directly, so alerts can be
//! queried while the agent is stopped.
//!
//! Layout. `alerts` holds the commonly filtered fields as columns (indexed where a filter on
//! them is usually selective), `alert_json` the whole alert as KubeArmor JSON under the same
//! id. Keeping the JSON out of `alerts` keeps that table small, so a filter that must look at
//! every row (a regular expression) scans a few hundred bytes per alert, not a kilobyte.
//! Ids come from AUTOINCREMENT, so they only grow and `alerts tail` can follow by id even
//! after retention has deleted everything.
//!
//! Order. "Chronological" means by `Timestamp`, ties by arrival (id); every index ends in
//! `ts`, so an equality filter plus `ORDER BY ts, id` (and `--limit`) is answered from the
//! index without sorting.
//!
//! Writing. One thread owns the write connection and commits in batches (up to
//! [`WriterOptions::max_batch`] alerts or every [`WriterOptions::flush_interval`]). Producers
//! never block: [`AlertSender::send`] drops the alert and counts it when the queue is full,
//! because an enforcement path must not wait on a disk.

use super::Alert;
use super::filter::{Field, FieldValue, Filter, Op, Operand};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, params, params_from_iter};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The database file inside the state directory.
pub const DB_FILE: &str = "alerts.db";

/// Bumped when the layout changes; a store from a newer knoxctl is refused, not misread.
const SCHEMA_VERSION: i64 = 1;

/// Fields stored as columns of `alerts`, with their column names. `Severity` is stored as an
/// integer (NULL when the alert's text is not a number) so that `Severity>=5` is SQL.
const COLUMNS: [(Field, &str); 16] = [
    (Field::Timestamp, "ts"),
    (Field::PolicyName, "policy_name"),
    (Field::Action, "action"),
    (Field::Operation, "operation"),
    (Field::Resource, "resource"),
    (Field::ProcessName, "process_name"),
    (Field::HostName, "host_name"),
    (Field::Severity, "severity"),
    (Field::Type, "type"),
    (Field::Enforcer, "enforcer"),
    (Field::Result, "result"),
    (Field::PID, "pid"),
    (Field::HostPID, "host_pid"),
    (Field::UID, "uid"),
    (Field::ContainerName, "container_name"),
    (Field::NamespaceName, "namespace_name"),
];

const SCHEMA: &str = "
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    policy_name TEXT NOT NULL,
    action TEXT NOT NULL,
    operation TEXT NOT NULL,
    resource TEXT NOT NULL,
    process_name TEXT NOT NULL,
    host_name TEXT NOT NULL,
    severity INTEGER,
    type TEXT NOT NULL,
    enforcer TEXT NOT NULL,
    result TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host_pid INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    container_name TEXT NOT NULL,
    namespace_name TEXT NOT NULL
);
CREATE TABLE alert_json (id INTEGER PRIMARY KEY, json TEXT NOT NULL);
-- Each index serves an equality filter and the chronological order at once.
CREATE INDEX alerts_ts ON alerts (ts);
CREATE INDEX alerts_policy_name ON alerts (policy_name, ts);
CREATE INDEX alerts_process_name ON alerts (process_name, ts);
CREATE INDEX alerts_resource ON alerts (resource, ts);
";

const INSERT: &str = "INSERT INTO alerts (ts, policy_name, action, operation, resource, \
     process_name, host_name, severity, type, enforcer, result, pid, host_pid, uid, \
     container_name, namespace_name) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

const INSERT_JSON: &str = "INSERT INTO alert_json (id, json) VALUES (?1, ?2)";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no alert store at {}", .path.display())]
    Missing { path: PathBuf },
    #[error("cannot create the state directory {}: {source}", .path.display())]
    CreateDir {
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
    #[error("{} is not a knoxctl alert store (no alerts table)", .path.display())]
    NotAStore { path: PathBuf },
    #[error("alert store {}: alert {id} is damaged: {source}", .path.display())]
    Corrupt {
        path: PathBuf,
        id: i64,
        source: serde_json::Error,
    },
    #[error("cannot start the alert writer thread: {0}")]
    Thread(std::io::Error),
}

/// How long alerts are kept. Both limits apply; deleted pages are reused, so the file stops
/// growing once either limit is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Alerts whose Timestamp is older than this are deleted.
    pub max_age: Duration,
    /// At most this many alerts are kept (the oldest go first). About 1 KiB each on disk.
    pub max_rows: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(14 * 86_400),
            max_rows: 500_000,
        }
    }
}

/// Which alerts a query returns: all filters hold, Timestamp ≥ `since` (epoch seconds), and
/// of those the newest `limit`, in chronological order.
#[derive(Debug, Default)]
pub struct Query {
    pub filters: Vec<Filter>,
    pub since: Option<i64>,
    pub limit: Option<usize>,
}

pub struct Store {
    path: PathBuf,
    conn: Connection,
}

fn column_of(field: Field) -> Option<&'static str> {
    COLUMNS.iter().find(|(f, _)| *f == field).map(|(_, c)| *c)
}

/// Where a filter is evaluated.
enum Eval {
    /// In the SQL WHERE clause.
    Sql,
    /// In Rust, on the value of a column selected with the candidate rows.
    Column(&'static str),
    /// In Rust, on the alert decoded from its JSON.
    Json,
}

fn eval_of(f: &Filter) -> Eval {
    match (column_of(f.field), f.op) {
        (Some(_), op) if op != Op::Regex => Eval::Sql,
        // The column holds Severity as a number; a regex must see the original text.
        (Some(c), _) if f.field != Field::Severity => Eval::Column(c),
        _ => Eval::Json,
    }
}

fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        // IS NOT: a NULL severity is "not equal", as Filter::matches says.
        Op::Ne => "IS NOT",
        Op::Ge => ">=",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Lt => "<",
        Op::Regex => unreachable!("regex filters are evaluated in Rust"),
    }
}

/// The pieces of one query: WHERE clause and parameters, plus the filters left to Rust.
struct Plan<'q> {
    where_sql: String,
    params: Vec<Value>,
    /// (filter, index of its column in the SELECT list)
    on_columns: Vec<(&'q Filter, usize)>,
    on_json: Vec<&'q Filter>,
    columns: Vec<&'static str>,
}

impl<'q> Plan<'q> {
    fn new(q: &'q Query) -> Plan<'q> {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        if let Some(since) = q.since {
            conds.push("a.ts >= ?".to_string());
            params.push(Value::Integer(since));
        }
        let mut plan = Plan {
            where_sql: String::new(),
            params: Vec::new(),
            on_columns: Vec::new(),
            on_json: Vec::new(),
            columns: Vec::new(),
        };
        for f in &q.filters {
            match eval_of(f) {
                Eval::Sql => {
                    let col = column_of(f.field).expect("Sql filters have a column");
                    conds.push(format!("a.{col} {} ?", sql_op(f.op)));
                    params.push(match &f.operand {
                        Operand::Text(s) => Value::Text(s.clone()),
                        Operand::Int(n) => Value::Integer(*n),
                        Operand::Regex(_) => unreachable!("regex filters are evaluated in Rust"),
                    });
                }
                Eval::Column(col) => {
                    let idx = match plan.columns.iter().position(|c| *c == col) {
                        Some(i) => i,
                        None => {
                            plan.columns.push(col);
                            plan.columns.len() - 1
                        }
                    };
                    plan.on_columns.push((f, idx));
                }
                Eval::Json => plan.on_json.push(f),
            }
        }
        if !conds.is_empty() {
            plan.where_sql = format!(" WHERE {}", conds.join(" AND "));
        }
        plan.params = params;
        plan
    }

    fn needs_rust(&self) -> bool {
        !self.on_columns.is_empty() || !self.on_json.is_empty()
    }
}

fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Store {
    pub fn db_path(state_dir: &Path) -> PathBuf {
        state_dir.join(DB_FILE)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Opens the store for writing, creating the state directory and database if needed.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::CreateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = Self::db_path(state_dir);
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let mut store = Store { path, conn };
        store.setup_writer().map_err(|e| store.err(e))?;
        store.check_schema()?;
        Ok(store)
    }

    fn setup_writer(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers (`knoxctl alerts`) never block the writer. NORMAL: a commit is an
        // append to the WAL without fsync; a power cut loses the last ~second of alerts,
        // never the database.
        self.conn
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 64 MiB of page cache keeps the index pages that inserts touch in memory.
        self.conn.pragma_update(None, "cache_size", -65_536)?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            let tx = self.conn.transaction()?;
            let has_table: bool = tx.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'alerts'",
                [],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )?;
            if !has_table {
                tx.execute_batch(SCHEMA)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            }
            tx.commit()?;
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

    /// Opens an existing store for reading; [`StoreError::Missing`] when there is none.
    pub fn open_readonly(state_dir: &Path) -> Result<Store, StoreError> {
        let path = Self::db_path(state_dir);
        if !path.exists() {
            return Err(StoreError::Missing { path });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let store = Store { path, conn };
        store
            .conn
            .busy_timeout(Duration::from_secs(5))
            .map_err(|e| store.err(e))?;
        store
            .conn
            .pragma_update(None, "cache_size", -65_536)
            .map_err(|e| store.err(e))?;
        store.check_schema()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A write transaction that takes the write lock up front: upgrading a read transaction
    /// in WAL mode can fail with SQLITE_BUSY_SNAPSHOT without waiting on busy_timeout.
    fn write_tx(&mut self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
    }

    /// Writes alerts in one transaction, returning the id of the last.
    pub fn insert_batch(&mut self, alerts: &[Alert]) -> Result<i64, StoreError> {
        self.insert_batch_inner(alerts).map_err(|e| self.err(e))
    }

    fn insert_batch_inner(&mut self, alerts: &[Alert]) -> rusqlite::Result<i64> {
        let tx = self.write_tx()?;
        let mut last = 0;
        {
            let mut ins = tx.prepare_cached(INSERT)?;
            let mut ins_json = tx.prepare_cached(INSERT_JSON)?;
            let mut buf = Vec::with_capacity(1024);
            for a in alerts {
                let severity = a.severity.trim().parse::<i64>().ok();
                last = ins.insert(params![
                    a.timestamp,
                    a.policy_name,
                    a.action,
                    a.operation,
                    a.resource,
                    a.process_name,
                    a.host_name,
                    severity,
                    a.kind,
                    a.enforcer,
                    a.result,
                    a.pid,
                    a.host_pid,
                    a.uid,
                    a.container_name,
                    a.namespace_name,
                ])?;
                buf.clear();
                serde_json::to_writer(&mut buf, a)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                let json = std::str::from_utf8(&buf)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                ins_json.execute(params![last, json])?;
            }
        }
        tx.commit()?;
        Ok(last)
    }

    /// Applies retention as of `now` (epoch seconds); returns how many alerts were deleted.
    pub fn prune(&mut self, retention: &Retention, now: i64) -> Result<u64, StoreError> {
        self.prune_inner(retention, now).map_err(|e| self.err(e))
    }

    fn prune_inner(&mut self, retention: &Retention, now: i64) -> rusqlite::Result<u64> {
        let tx = self.write_tx()?;
        let mut deleted = 0u64;
        let max_age = i64::try_from(retention.max_age.as_secs()).unwrap_or(i64::MAX);
        let cutoff_ts = now.saturating_sub(max_age);
        tx.execute(
            "DELETE FROM alert_json WHERE id IN (SELECT id FROM alerts WHERE ts < ?1)",
            [cutoff_ts],
        )?;
        deleted += tx.execute("DELETE FROM alerts WHERE ts < ?1", [cutoff_ts])? as u64;
        // Ids only grow, so the newest max_rows alerts have ids above max_id - max_rows.
        let max_id: Option<i64> = tx.query_row("SELECT max(id) FROM alerts", [], |r| r.get(0))?;
        if let Some(max_id) = max_id {
            let keep = i64::try_from(retention.max_rows).unwrap_or(i64::MAX);
            let cut = max_id.saturating_sub(keep);
            if cut > 0 {
                tx.execute("DELETE FROM alert_json WHERE id <= ?1", [cut])?;
                deleted += tx.execute("DELETE FROM alerts WHERE id <= ?1", [cut])? as u64;
            }
        }
        tx.commit()?;
        Ok(deleted)
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM alerts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// The id of the newest alert written (0 for an empty store); `alerts tail` starts here.
    pub fn last_id(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'alerts'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Calls `f` with the id and JSON of each alert written after `after_id`, in the order
    /// written, at most `max` of them; returns the last id seen (or `after_id`).
    pub fn for_each_after<E: From<StoreError>>(
        &self,
        after_id: i64,
        max: usize,
        mut f: impl FnMut(i64, &str) -> Result<(), E>,
    ) -> Result<i64, E> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.id, j.json FROM alerts a JOIN alert_json j ON j.id = a.id \
                 WHERE a.id > ?1 ORDER BY a.id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params![after_id, max as i64])
            .map_err(|e| self.err(e))?;
        let mut last = after_id;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.err(e))?;
            let json = row.get_ref(1).and_then(|v| Ok(v.as_str()?));
            f(id, json.map_err(|e| self.err(e))?)?;
            last = id;
        }
        Ok(last)
    }

    /// The alerts a query selects, decoded, in chronological order.
    pub fn query(&self, q: &Query) -> Result<Vec<Alert>, StoreError> {
        let mut out = Vec::new();
        self.query_json(q, |id, json| {
            out.push(self.decode(id, json)?);
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    fn decode(&self, id: i64, json: &str) -> Result<Alert, StoreError> {
        serde_json::from_str(json).map_err(|source| StoreError::Corrupt {
            path: self.path.clone(),
            id,
            source,
        })
    }

    /// Calls `f` with the id and stored JSON (KubeArmor's field names, one line) of each
    /// alert a query selects, in chronological order, streaming where the order allows.
    pub fn query_json<E: From<StoreError>>(
        &self,
        q: &Query,
        mut f: impl FnMut(i64, &str) -> Result<(), E>,
    ) -> Result<(), E> {
        if q.limit == Some(0) {
            return Ok(());
        }
        let plan = Plan::new(q);
        if !plan.needs_rust() {
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
        f: &mut impl FnMut(i64, &str) -> Result<(), E>,
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
            "SELECT a.id, j.json FROM alerts a JOIN alert_json j ON j.id = a.id{} \
             ORDER BY a.ts, a.id",
            plan.where_sql
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params_from_iter(plan.params.iter()))
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = row.get(0).map_err(|e| self.err(e))?;
            let json = row.get_ref(1).and_then(|v| Ok(v.as_str()?));
            f(id, json.map_err(|e| self.err(e))?)?;
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
        f: &mut impl FnMut(i64, &str) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT json FROM alert_json WHERE id = ?1")
            .map_err(|e| self.err(e))?;
        for &id in ids {
            let mut rows = stmt.query([id]).map_err(|e| self.err(e))?;
            // A row deleted by retention since the scan is simply gone.
            if let Some(row) = rows.next().map_err(|e| self.err(e))? {
                let json = row.get_ref(0).and_then(|v| Ok(v.as_str()?));
                f(id, json.map_err(|e| self.err(e))?)?;
            }
        }
        Ok(())
    }

    /// Walks the rows that pass the SQL part of the plan, evaluates the Rust part, and calls
    /// `keep(ts, id)` for each match until it returns false.
    fn scan(
        &self,
        plan: &Plan<'_>,
        newest_first: bool,
        mut keep: impl FnMut(i64, i64) -> bool,
    ) -> Result<(), StoreError> {
        let mut select = String::from("SELECT a.ts, a.id");
        for c in &plan.columns {
            select.push_str(", a.");
            select.push_str(c);
        }
        let json_idx = 2 + plan.columns.len();
        let sql = if plan.on_json.is_empty() {
            format!("{select} FROM alerts a{}", plan.where_sql)
        } else {
            format!(
                "{select}, j.json FROM alerts a JOIN alert_json j ON j.id = a.id{}",
                plan.where_sql
            )
        };
        let sql = if newest_first {
            format!("{sql} ORDER BY a.ts DESC, a.id DESC")
        } else {
            sql
        };
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query(params_from_iter(plan.params.iter()))
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let ts: i64 = row.get(0).map_err(|e| self.err(e))?;
            let id: i64 = row.get(1).map_err(|e| self.err(e))?;
            let columns_hold = plan
                .on_columns
                .iter()
                .all(|(f, idx)| match row.get_ref(2 + idx) {
                    Ok(ValueRef::Text(t)) => {
                        f.matches_value(FieldValue::Str(std::str::from_utf8(t).unwrap_or("")))
                    }
                    Ok(ValueRef::Integer(n)) => f.matches_value(FieldValue::Int(n)),
                    _ => false,
                });
            if !columns_hold {
                continue;
            }
            if !plan.on_json.is_empty() {
                let json = row
                    .get_ref(json_idx)
                    .and_then(|v| Ok(v.as_str()?))
                    .map_err(|e| self.err(e))?;
                let alert = self.decode(id, json)?;
                if !plan.on_json.iter().all(|f| f.matches(&alert)) {
                    continue;
                }
            }
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
    /// How often retention runs (also at start and at shutdown).
    pub prune_interval: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            capacity: 65_536,
            max_batch: 8_192,
            flush_interval: Duration::from_millis(100),
            prune_interval: Duration::from_secs(10),
        }
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
}

#[derive(Default)]
struct Counters {
    stored: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    pruned: AtomicU64,
    batches: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> StoreStats {
        StoreStats {
            stored: self.stored.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            pruned: self.pruned.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
        }
    }
}

/// The producer side of the writer's queue; clone it for each producer.
#[derive(Clone)]
pub struct AlertSender {
    tx: SyncSender<Alert>,
    counters: Arc<Counters>,
}

impl AlertSender {
    /// Queues an alert without blocking. Returns false, and counts the alert as dropped, when
    /// the queue is full or the writer has stopped.
    pub fn send(&self, alert: Alert) -> bool {
        match self.tx.try_send(alert) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// The writer thread. Dropping it without [`AlertWriter::shutdown`] also stops it and
/// flushes, but cannot report an error.
pub struct AlertWriter {
    handle: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
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
        let store = Store::open(state_dir)?;
        let (tx, rx) = mpsc::sync_channel(options.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            store,
            rx,
            stop: stop.clone(),
            counters: counters.clone(),
            retention,
            options,
        };
        let handle = std::thread::Builder::new()
            .name("alert-writer".into())
            .spawn(move || worker.run())
            .map_err(StoreError::Thread)?;
        Ok((
            AlertWriter {
                handle: Some(handle),
                stop,
                counters: counters.clone(),
            },
            AlertSender { tx, counters },
        ))
    }

    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    /// Commits everything queued so far, applies retention and stops the thread. Alerts sent
    /// afterwards are counted as dropped.
    pub fn shutdown(mut self) -> StoreStats {
        self.stop_and_join();
        self.counters.snapshot()
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            // The thread looks at the flag at least every IDLE_WAKE.
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
    rx: Receiver<Alert>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    retention: Retention,
    options: WriterOptions,
}

/// How often an idle writer looks at the stop flag.
const IDLE_WAKE: Duration = Duration::from_millis(50);

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<Alert> = Vec::with_capacity(self.options.max_batch.min(65_536));
        self.prune();
        let mut next_prune = Instant::now() + self.options.prune_interval;
        let mut open = true;
        while open && !self.stop.load(Ordering::Relaxed) {
            match self.rx.recv_timeout(IDLE_WAKE) {
                Ok(a) => batch.push(a),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
            if !batch.is_empty() {
                open = self.fill(&mut batch);
                self.commit(&mut batch);
            }
            if Instant::now() >= next_prune {
                self.prune();
                next_prune = Instant::now() + self.options.prune_interval;
            }
        }
        // Shutting down: commit what is already queued, without waiting for more.
        loop {
            while batch.len() < self.options.max_batch {
                match self.rx.try_recv() {
                    Ok(a) => batch.push(a),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            self.commit(&mut batch);
        }
        self.prune();
    }

    /// Adds queued alerts to a started batch until it is full or its flush time comes.
    /// Returns false when every sender is gone.
    fn fill(&self, batch: &mut Vec<Alert>) -> bool {
        let deadline = Instant::now() + self.options.flush_interval;
        while batch.len() < self.options.max_batch {
            match self.rx.try_recv() {
                Ok(a) => {
                    batch.push(a);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if now >= deadline || self.stop.load(Ordering::Relaxed) {
                break;
            }
            match self.rx.recv_timeout((deadline - now).min(IDLE_WAKE)) {
                Ok(a) => batch.push(a),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
        true
    }

    fn commit(&mut self, batch: &mut Vec<Alert>) {
        let n = batch.len() as u64;
        match self.store.insert_batch(batch) {
            Ok(_) => {
                self.counters.stored.fetch_add(n, Ordering::Relaxed);
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
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
            .filter(|(_, a)| q.filters.iter().all(|f| f.matches(a)))
            .collect();
        v.sort_by_key(|(i, a)| (a.timestamp, *i));
        let skip = q.limit.map_or(0, |l| v.len().saturating_sub(l));
        v.into_iter().skip(skip).map(|(_, a)| a.clone()).collect()
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
        ];
        for filters in exprs {
            for limit in [None, Some(0), Some(1), Some(7), Some(5000)] {
                for since in [None, Some(1_717_000_400)] {
                    let q = Query {
                        filters: filters.iter().map(|e| Filter::parse(e).unwrap()).collect(),
                        since,
                        limit,
                    };
                    let got = store.query(&q).unwrap();
                    let want = expected(&all, &q);
                    assert_eq!(got.len(), want.len(), "{filters:?} {limit:?} {since:?}");
                    assert!(got == want, "{filters:?} {limit:?} {since:?}");
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
            since: None,
            limit: Some(10),
        };
        let plan = Plan::new(&q);
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
            .for_each_after(0, 10_000, |_, json| {
                seen.push(serde_json::from_str::<Alert>(json).unwrap());
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
