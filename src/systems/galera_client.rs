//! The client of MariaDB Galera: one `mysql_async` connection per worker, to its own node,
//! and every op one real SQL transaction at the test's isolation level.
//!
//! - A txn (`append`, `wr`) runs its micro-ops in order inside one transaction, as Elle's
//!   clients do: `r` is a `SELECT`; `append` is one `INSERT … ON DUPLICATE KEY UPDATE
//!   v = CONCAT(v, ',', x)` on the text column of the `lists` table; `w` is an upsert into
//!   `kv`. What the transaction reads is whatever the database's isolation gives it: the
//!   checker, not this client, decides whether that was legal.
//! - Every other op (register, set, counter, bank, queue, unique-ids) reads the keys it
//!   needs with one `SELECT` (`FOR UPDATE` when the op writes, as an application would),
//!   computes its answer as [`ops::apply`] defines it, and writes the new values before
//!   `COMMIT`.
//!
//! Outcomes: whatever goes wrong before `COMMIT` is sent is a `fail` (the server rolls the
//! transaction back; a lost connection aborts it); so is a read-only op's error, and a
//! `COMMIT` the server refused as a deadlock or a certification conflict (error 1213) or
//! because the node is not part of the primary component (1047). A `COMMIT` that got no
//! answer, or any other error, is `info`.
//!
//! This module must never start or stop a node.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use faultline_workloads::op::OpRequest;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, TxOpts};
use serde_json::{json, Value};

use super::ops::{self, Applied};
use super::optimistic_txn;
use super::{decode_value, Client, Completion, NodeSpec};

/// How clients read (`--read-consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// `wsrep_sync_wait = 1`: a read first waits until its node applied every write the
    /// cluster committed before it began.
    Causal,
    /// The node answers from what it has applied so far.
    Local,
}

impl FromStr for Reads {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Reads> {
        match s {
            "causal" => Ok(Reads::Causal),
            "local" => Ok(Reads::Local),
            other => anyhow::bail!("galera reads are causal or local, not {other}"),
        }
    }
}

/// Every transaction's isolation level (`--isolation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// `READ COMMITTED`.
    ReadCommitted,
    /// `REPEATABLE READ`, MariaDB's default.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl Isolation {
    /// The SQL words for it.
    fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

impl FromStr for Isolation {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Isolation> {
        match s {
            "read-committed" => Ok(Isolation::ReadCommitted),
            "repeatable-read" => Ok(Isolation::RepeatableRead),
            "serializable" => Ok(Isolation::Serializable),
            other => anyhow::bail!(
                "unknown isolation {other}: give read-committed, repeatable-read or serializable"
            ),
        }
    }
}

/// A connection to `node` as the `faultline` user, within `timeout`.
pub(crate) async fn connect(node: &NodeSpec, timeout: Duration) -> Result<Conn, String> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(node.host().to_string())
        .tcp_port(node.client_port())
        .user(Some("faultline"))
        .db_name(Some("faultline"))
        .prefer_socket(false)
        .stmt_cache_size(64);
    match tokio::time::timeout(timeout, Conn::new(opts)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("cannot connect to {}: {e}", node.name)),
        Err(_) => Err(format!("no connection to {} within {timeout:?}", node.name)),
    }
}

/// The value of the status variable `name` on `conn`'s server.
pub(crate) async fn status(conn: &mut Conn, name: &str) -> Result<String, String> {
    let row: Option<(String, String)> = conn
        .exec_first("SHOW STATUS WHERE Variable_name = ?", (name,))
        .await
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    row.map(|(_, value)| value)
        .ok_or_else(|| format!("the server has no status variable {name}"))
}

/// One worker's Galera client, connected to its own node only.
pub struct GaleraClient {
    node: NodeSpec,
    op_timeout: Duration,
    reads: Reads,
    isolation: Isolation,
    conn: Option<Conn>,
}

/// How far an op got: what an error means depends on whether `COMMIT` was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connecting,
    InTransaction,
    Committing,
}

impl GaleraClient {
    /// A client of `node` that has not connected yet.
    pub fn new(node: NodeSpec, op_timeout: Duration, reads: Reads, isolation: Isolation) -> Self {
        GaleraClient {
            node,
            op_timeout,
            reads,
            isolation,
            conn: None,
        }
    }

    /// The open connection, or a fresh one set up for this test's reads and isolation.
    async fn conn(&mut self) -> Result<&mut Conn, String> {
        if self.conn.is_none() {
            let mut conn = connect(&self.node, self.op_timeout).await?;
            let sync_wait = match self.reads {
                Reads::Causal => 1,
                Reads::Local => 0,
            };
            let session = [
                format!("SET SESSION wsrep_sync_wait = {sync_wait}"),
                format!(
                    "SET SESSION TRANSACTION ISOLATION LEVEL {}",
                    self.isolation.sql()
                ),
            ];
            for statement in session {
                conn.query_drop(statement)
                    .await
                    .map_err(|e| format!("{}: cannot set up the session: {e}", self.node.name))?;
            }
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// Run `op` in one transaction, bounded by the op timeout.
    async fn run(&mut self, op: &OpRequest, plan: Planned) -> Completion {
        let timeout = self.op_timeout;
        let read_only = plan.read_only();
        let mut stage = Stage::Connecting;
        let outcome = tokio::time::timeout(timeout, async {
            let conn = match self.conn().await {
                Ok(conn) => conn,
                Err(why) => return Outcome::NoConnection(why),
            };
            stage = Stage::InTransaction;
            let mut tx = match conn.start_transaction(TxOpts::default()).await {
                Ok(tx) => tx,
                Err(error) => return Outcome::Failed(stage, error),
            };
            let answer = match plan.execute(op, &mut tx).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(refused)) => {
                    let _ = tx.rollback().await;
                    return Outcome::Refused(refused);
                }
                Err(error) => return Outcome::Failed(stage, error),
            };
            stage = Stage::Committing;
            match tx.commit().await {
                Ok(()) => Outcome::Done(answer),
                Err(error) => Outcome::Failed(stage, error),
            }
        })
        .await;
        let (stage, error) = match outcome {
            Ok(Outcome::Done(value)) => return Completion::ok(value),
            Ok(Outcome::Refused(why) | Outcome::NoConnection(why)) => {
                return Completion::fail(op.value.clone(), why)
            }
            Ok(Outcome::Failed(stage, error)) => (stage, error),
            Err(_) => {
                // The transaction is cut off where it was; its connection goes with it.
                self.conn = None;
                let why = format!("no answer from {} within {timeout:?}", self.node.name);
                return if stage == Stage::Committing && !read_only {
                    Completion::info(op.value.clone(), why)
                } else {
                    Completion::fail(op.value.clone(), why)
                };
            }
        };
        if !matches!(error, mysql_async::Error::Server(_)) {
            self.conn = None;
        }
        let why = format!("{}: {error}", self.node.name);
        if read_only || stage != Stage::Committing || aborted(&error) {
            Completion::fail(op.value.clone(), why)
        } else {
            Completion::info(op.value.clone(), why)
        }
    }
}

/// How a transaction ended.
enum Outcome {
    /// Committed, answering this.
    Done(Value),
    /// The op refused itself (a cas mismatch, insufficient funds): rolled back.
    Refused(String),
    /// No connection to the node: nothing was sent.
    NoConnection(String),
    /// The driver or the server failed at this stage.
    Failed(Stage, mysql_async::Error),
}

/// Whether the server says the transaction was rolled back: a deadlock or a Galera
/// certification conflict (1213), a node outside the primary component (1047), a lock wait
/// that timed out (1205).
fn aborted(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(e) if matches!(e.code, 1213 | 1047 | 1205))
}

/// An op ready to run: a txn's micro-ops, or any other op's plan.
enum Planned {
    Txn(Vec<optimistic_txn::MicroOp>),
    Op(ops::Plan),
}

/// What a transaction answers (`Ok`), or why the op refused itself (`Err`: a cas mismatch,
/// insufficient funds).
type Answer = Result<Value, String>;

impl Planned {
    fn read_only(&self) -> bool {
        match self {
            Planned::Txn(micro) => micro.iter().all(|m| m.f == "r"),
            Planned::Op(plan) => ops::is_read_only(plan),
        }
    }

    async fn execute(
        &self,
        op: &OpRequest,
        tx: &mut mysql_async::Transaction<'_>,
    ) -> Result<Answer, mysql_async::Error> {
        match self {
            Planned::Txn(micro) => run_micro_ops(micro, tx).await.map(Ok),
            Planned::Op(plan) => run_op(op, plan, tx).await,
        }
    }
}

/// A txn's micro-ops, in order, in one transaction: the completed micro-ops.
async fn run_micro_ops(
    micro: &[optimistic_txn::MicroOp],
    tx: &mut mysql_async::Transaction<'_>,
) -> Result<Value, mysql_async::Error> {
    let mut completed = Vec::with_capacity(micro.len());
    for m in micro {
        match m.f.as_str() {
            "r" => {
                let row: Option<(Option<String>, Option<String>)> = tx
                    .exec_first(
                        "SELECT (SELECT v FROM lists WHERE k = ?), (SELECT v FROM kv WHERE k = ?)",
                        (&m.path, &m.path),
                    )
                    .await?;
                let (list, value) = row.unwrap_or_default();
                completed.push(json!(["r", m.key, stored(list, value)]));
            }
            "append" => {
                tx.exec_drop(
                    "INSERT INTO lists (k, v) VALUES (?, ?) \
                     ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', VALUES(v))",
                    (&m.path, m.value.to_string()),
                )
                .await?;
                completed.push(json!(["append", m.key, m.value]));
            }
            _ => {
                upsert(tx, &m.path, &m.value).await?;
                completed.push(json!([m.f, m.key, m.value]));
            }
        }
    }
    Ok(Value::Array(completed))
}

/// What a key holds: an appended list (`lists`, elements joined by commas), a value written
/// whole (`kv`, JSON), or `null` when absent. Text faultline did not write reads as a string.
fn stored(list: Option<String>, value: Option<String>) -> Value {
    if let Some(list) = list {
        let elements = list
            .split(',')
            .map(|e| serde_json::from_str(e).unwrap_or_else(|_| Value::String(e.to_string())))
            .collect();
        return Value::Array(elements);
    }
    match value {
        Some(text) => decode_value(text.as_bytes()).unwrap_or(Value::String(text)),
        None => Value::Null,
    }
}

async fn upsert(
    tx: &mut mysql_async::Transaction<'_>,
    key: &str,
    value: &Value,
) -> Result<(), mysql_async::Error> {
    if value.is_null() {
        tx.exec_drop("DELETE FROM kv WHERE k = ?", (key,)).await
    } else {
        tx.exec_drop(
            "INSERT INTO kv (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)",
            (key, value.to_string()),
        )
        .await
    }
}

/// Any op but a txn: read what it needs in one statement, apply it, write the result.
async fn run_op(
    op: &OpRequest,
    plan: &ops::Plan,
    tx: &mut mysql_async::Transaction<'_>,
) -> Result<Answer, mysql_async::Error> {
    let mut snapshot = vec![Value::Null; plan.reads.len()];
    if !plan.reads.is_empty() {
        let marks = vec!["?"; plan.reads.len()].join(", ");
        let lock = if ops::is_read_only(plan) {
            ""
        } else {
            " FOR UPDATE"
        };
        let rows: Vec<(String, String)> = tx
            .exec(
                format!("SELECT k, v FROM kv WHERE k IN ({marks}){lock}"),
                plan.reads.clone(),
            )
            .await?;
        for (key, text) in rows {
            for (i, path) in plan.reads.iter().enumerate() {
                if *path == key {
                    snapshot[i] = stored(None, Some(text.clone()));
                }
            }
        }
    }
    match ops::apply(op, plan, &snapshot) {
        Ok(Applied::Done { value, writes }) => {
            for (key, value) in &writes {
                upsert(tx, key, value).await?;
            }
            Ok(Ok(value))
        }
        Ok(Applied::Refused(why)) | Err(why) => Ok(Err(why)),
    }
}

#[async_trait]
impl Client for GaleraClient {
    async fn invoke(&mut self, op: &OpRequest) -> Completion {
        let planned = if op.f == "txn" {
            optimistic_txn::micro_ops(op, str::to_string).map(Planned::Txn)
        } else {
            ops::plan(op, &str::to_string)
                .map(Planned::Op)
                .map_err(|why| Completion::fail(op.value.clone(), why))
        };
        match planned {
            Ok(plan) => self.run(op, plan).await,
            Err(malformed) => malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_values_read_back_as_written() {
        assert_eq!(stored(Some("1,2,3".into()), None), json!([1, 2, 3]));
        assert_eq!(stored(None, Some("5".into())), json!(5));
        assert_eq!(stored(None, Some("{\"a\":1}".into())), json!({"a": 1}));
        assert_eq!(stored(None, None), Value::Null);
        assert_eq!(stored(None, Some("not json".into())), json!("not json"));
    }

    #[test]
    fn isolation_and_reads_parse_from_their_flags() {
        assert_eq!(
            "repeatable-read".parse::<Isolation>().unwrap().sql(),
            "REPEATABLE READ"
        );
        assert!("snapshot"
            .parse::<Isolation>()
            .unwrap_err()
            .to_string()
            .contains("read-committed, repeatable-read or serializable"));
        assert_eq!("local".parse::<Reads>().unwrap(), Reads::Local);
    }

    #[test]
    fn only_a_rolled_back_commit_is_certain() {
        let server = |code| {
            mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: String::new(),
                state: String::new(),
            })
        };
        assert!(aborted(&server(1213)));
        assert!(aborted(&server(1047)));
        assert!(!aborted(&server(1180)));
    }
}
