//! What every workload's operation means, written once as a read-modify-write over a snapshot
//! of the keys it touches: which keys an op reads ([`plan`]), and, given their values, what
//! the op answers and which keys it writes ([`apply`]). Every system runs these the same way
//! (see [`crate::systems::store`]): the clients of etcd, ZooKeeper and NATS read a snapshot
//! and commit the writes guarded by what they read; the reference service does the same
//! with its own guarded commit.
//!
//! The vocabulary (an absent key reads as `null`):
//!
//! Sets, counters and queues are told apart by their keys: `set`, `set-N`, `counter`,
//! `counter-N`, `queue`, `queue-N`; any other key is a register's.
//!
//! | workload | op | reads | answers | writes |
//! |---|---|---|---|---|
//! | register | `read` | `k` | its value | — |
//! | | `write v` | — | `v` | `k = v` |
//! | | `cas [from, to]` | `k` | `[from, to]`, or `fail` on a mismatch | `k = to` |
//! | txn | `txn [[f, k, v], ...]` | every `k` | completed micro-ops | each written `k` |
//! | set | `add e` | its key | `e` | the set with `e` |
//! | | `read` | its key | the elements, ascending | — |
//! | counter | `add d` | its key | `d` | `k + d` |
//! | | `read` | its key | the count (`0` when absent) | — |
//! | bank | `init {acct: balance}` | each account (`bank-ACCT`) | the balances | every account, once |
//! | | `transfer {from, to, amount}` | both accounts | the value, or `fail` on insufficient funds | both |
//! | | `read [acct, ...]` | each account | `{acct: balance}` | — |
//! | unique-ids | `generate` | `unique-ids` | the new id | `ids + 1` |
//! | queue | `enqueue x` | its key | `x` | the queue with `x` last |
//! | | `dequeue` | its key | the first element, `null` when empty | the rest |
//! | | `drain` | its key | every element, in order | the empty queue |
//!
//! This module must never talk to a system: it only parses and computes.

use std::collections::{BTreeSet, HashMap};

use faultline_workloads::op::OpRequest;
use serde_json::{json, Map, Value};

use super::optimistic_txn;

/// What an op reads and how it is then applied.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The storage paths the op reads, in order; empty for a blind write.
    pub reads: Vec<String>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Read(String),
    Write(String, Value),
    Cas(String, Value, Value),
    Txn(Vec<optimistic_txn::MicroOp>),
    SetAdd(String, Value),
    SetRead(String),
    CounterAdd(String, i64),
    CounterRead(String),
    BankInit(Vec<(String, String, i64)>),
    BankTransfer {
        from: String,
        to: String,
        amount: i64,
    },
    BankRead(Vec<(String, String)>),
    Generate(String),
    Enqueue(String, Value),
    Dequeue(String),
    Drain(String),
}

/// What applying an op to a snapshot gave.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Applied {
    /// The op happens: it answers `value` and writes `writes` (none for a read).
    Done {
        /// The completion's value.
        value: Value,
        /// `(path, value)` to write; `null` deletes.
        writes: Vec<(String, Value)>,
    },
    /// The op certainly does not happen (a cas mismatch, insufficient funds).
    Refused(String),
}

/// Whether an op only reads: a failed or uncertain read had no effect, so it is a `fail`.
pub(crate) fn is_read_only(plan: &Plan) -> bool {
    match &plan.kind {
        Kind::Read(_) | Kind::SetRead(_) | Kind::CounterRead(_) | Kind::BankRead(_) => true,
        Kind::Txn(ops) => ops.iter().all(|m| m.f == "r"),
        _ => false,
    }
}

/// The collection a key names by its prefix: `set`, `counter` or `queue` (`set` and `set-3`
/// are sets); `None` for a register's key.
fn collection(op: &OpRequest) -> Option<&'static str> {
    let key = op.key.as_ref()?.as_str()?;
    let prefix = key.split('-').next().unwrap_or(key);
    ["set", "counter", "queue"]
        .into_iter()
        .find(|c| *c == prefix)
}

/// The key an op names, in string form (`register` when it names none).
fn key_name(op: &OpRequest) -> Result<String, String> {
    match op.key.as_ref() {
        None | Some(Value::Null) => Ok("register".to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(format!("key {other} is neither a string nor an integer")),
    }
}

fn int(v: &Value, what: &str) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("{what} must be an integer, got {v}"))
}

/// The account names of a bank op: integers or strings, in their string form.
fn account(v: &Value) -> Result<String, String> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        other => Err(format!(
            "account {other} is neither an integer nor a string"
        )),
    }
}

/// Parse `op` into what it reads, each key's storage path made by `path`. `Err` says what is
/// malformed (the op is a `fail`: nothing was sent).
pub(crate) fn plan(op: &OpRequest, path: &dyn Fn(&str) -> String) -> Result<Plan, String> {
    // Where the op's key is stored.
    let key_path = || -> Result<String, String> { Ok(path(&key_name(op)?)) };
    let kind = match op.f.as_str() {
        "read" if op.value.is_array() => {
            // A bank read names its accounts; every other read names a key.
            let accounts = op.value.as_array().into_iter().flatten();
            let accounts = accounts
                .map(|a| Ok((account(a)?, path(&format!("bank-{}", account(a)?)))))
                .collect::<Result<Vec<_>, String>>()?;
            Kind::BankRead(accounts)
        }
        "read" => match collection(op) {
            Some("set") => Kind::SetRead(key_path()?),
            Some("counter") => Kind::CounterRead(key_path()?),
            _ => Kind::Read(key_path()?),
        },
        "write" => Kind::Write(key_path()?, op.value.clone()),
        "cas" => match op.value.as_array().map(Vec::as_slice) {
            Some([from, to]) => Kind::Cas(key_path()?, from.clone(), to.clone()),
            _ => return Err(format!("cas value must be [from, to], got {}", op.value)),
        },
        "txn" => {
            Kind::Txn(optimistic_txn::micro_ops(op, path).map_err(|c| c.error.unwrap_or_default())?)
        }
        "add" => match collection(op) {
            Some("set") => Kind::SetAdd(key_path()?, op.value.clone()),
            Some("counter") => Kind::CounterAdd(key_path()?, int(&op.value, "an add's value")?),
            _ => {
                return Err(format!(
                    "add needs a set or counter key (set, set-N, counter, counter-N), got {:?}",
                    op.key
                ))
            }
        },
        "init" => {
            let Some(balances) = op.value.as_object() else {
                return Err(format!(
                    "init's value must be {{account: balance}}, got {}",
                    op.value
                ));
            };
            let mut accounts = Vec::new();
            for (name, balance) in balances {
                let balance = int(balance, "a balance")?;
                accounts.push((name.clone(), path(&format!("bank-{name}")), balance));
            }
            Kind::BankInit(accounts)
        }
        "transfer" => {
            let field = |f: &str| {
                op.value
                    .get(f)
                    .ok_or_else(|| format!("transfer needs {{from, to, amount}}, got {}", op.value))
            };
            let (from, to) = (account(field("from")?)?, account(field("to")?)?);
            if from == to {
                return Err(format!("transfer from account {from} to itself"));
            }
            Kind::BankTransfer {
                from: path(&format!("bank-{from}")),
                to: path(&format!("bank-{to}")),
                amount: int(field("amount")?, "amount")?,
            }
        }
        "generate" => Kind::Generate(path("unique-ids")),
        "enqueue" => Kind::Enqueue(key_path()?, op.value.clone()),
        "dequeue" => Kind::Dequeue(key_path()?),
        "drain" => Kind::Drain(key_path()?),
        other => return Err(format!("unknown op f \"{other}\"")),
    };
    let reads = match &kind {
        Kind::Write(..) => Vec::new(),
        Kind::Read(p)
        | Kind::Cas(p, ..)
        | Kind::SetAdd(p, _)
        | Kind::SetRead(p)
        | Kind::CounterAdd(p, _)
        | Kind::CounterRead(p)
        | Kind::Generate(p)
        | Kind::Enqueue(p, _)
        | Kind::Dequeue(p)
        | Kind::Drain(p) => vec![p.clone()],
        Kind::Txn(ops) => optimistic_txn::paths(ops)
            .into_iter()
            .map(str::to_string)
            .collect(),
        Kind::BankInit(accounts) => accounts.iter().map(|(_, p, _)| p.clone()).collect(),
        Kind::BankTransfer { from, to, .. } => vec![from.clone(), to.clone()],
        Kind::BankRead(accounts) => accounts.iter().map(|(_, p)| p.clone()).collect(),
    };
    Ok(Plan { reads, kind })
}

/// Apply a planned op to the values its reads found (`snapshot[i]` for `plan.reads[i]`,
/// `null` = absent). `Err` is a malformed stored value (the op is a `fail`).
pub(crate) fn apply(op: &OpRequest, plan: &Plan, snapshot: &[Value]) -> Result<Applied, String> {
    let first = || snapshot.first().cloned().unwrap_or(Value::Null);
    let done = |value: Value, writes: Vec<(String, Value)>| Ok(Applied::Done { value, writes });
    match &plan.kind {
        Kind::Read(_) => done(first(), vec![]),
        Kind::Write(path, v) => done(v.clone(), vec![(path.clone(), v.clone())]),
        Kind::Cas(path, from, to) => {
            if &first() == from {
                done(op.value.clone(), vec![(path.clone(), to.clone())])
            } else {
                Ok(Applied::Refused("cas mismatch".to_string()))
            }
        }
        Kind::Txn(ops) => {
            let read: HashMap<String, Value> = plan
                .reads
                .iter()
                .cloned()
                .zip(snapshot.iter().cloned())
                .collect();
            let (completed, writes) = optimistic_txn::execute(ops, &read)?;
            done(Value::Array(completed), writes)
        }
        Kind::SetAdd(path, element) => {
            let mut set = elements(&first(), "set")?;
            if set.insert(Ordered(element.clone())) {
                done(element.clone(), vec![(path.clone(), to_array(set))])
            } else {
                done(element.clone(), vec![])
            }
        }
        Kind::SetRead(_) => done(to_array(elements(&first(), "set")?), vec![]),
        Kind::CounterAdd(path, delta) => {
            let count = count(&first())?;
            done(json!(delta), vec![(path.clone(), json!(count + delta))])
        }
        Kind::CounterRead(_) => done(json!(count(&first())?), vec![]),
        Kind::BankInit(accounts) => {
            let present = snapshot.iter().filter(|v| !v.is_null()).count();
            if present == accounts.len() {
                let balances = accounts
                    .iter()
                    .zip(snapshot)
                    .map(|((n, _, _), v)| (n.clone(), v.clone()));
                return done(Value::Object(balances.collect()), vec![]);
            }
            if present != 0 {
                return Err(format!(
                    "{present} of the {} accounts exist: the bank was set up by someone else",
                    accounts.len()
                ));
            }
            let writes = accounts
                .iter()
                .map(|(_, p, b)| (p.clone(), json!(b)))
                .collect();
            let balances: Map<String, Value> = accounts
                .iter()
                .map(|(n, _, b)| (n.clone(), json!(b)))
                .collect();
            done(Value::Object(balances), writes)
        }
        Kind::BankTransfer { from, to, amount } => {
            let (a, b) = (count(&snapshot[0])?, count(&snapshot[1])?);
            if snapshot[0].is_null() || snapshot[1].is_null() {
                return Err(
                    "an account of the transfer does not exist: the bank was not set up".into(),
                );
            }
            if a < *amount {
                return Ok(Applied::Refused(format!(
                    "insufficient funds: the balance is {a}, the transfer {amount}"
                )));
            }
            done(
                op.value.clone(),
                vec![
                    (from.clone(), json!(a - amount)),
                    (to.clone(), json!(b + amount)),
                ],
            )
        }
        Kind::BankRead(accounts) => {
            let balances: Map<String, Value> = accounts
                .iter()
                .zip(snapshot)
                .map(|((name, _), v)| (name.clone(), v.clone()))
                .collect();
            done(Value::Object(balances), vec![])
        }
        Kind::Generate(path) => {
            let id = count(&first())? + 1;
            done(json!(id), vec![(path.clone(), json!(id))])
        }
        Kind::Enqueue(path, x) => {
            let mut queue = list(&first(), "queue")?;
            queue.push(x.clone());
            done(x.clone(), vec![(path.clone(), Value::Array(queue))])
        }
        Kind::Dequeue(path) => {
            let mut queue = list(&first(), "queue")?;
            if queue.is_empty() {
                return done(Value::Null, vec![]);
            }
            let head = queue.remove(0);
            done(head, vec![(path.clone(), Value::Array(queue))])
        }
        Kind::Drain(path) => {
            let queue = list(&first(), "queue")?;
            if queue.is_empty() {
                return done(json!([]), vec![]);
            }
            done(Value::Array(queue), vec![(path.clone(), json!([]))])
        }
    }
}

/// A JSON value ordered for a set: numbers by value, then anything else by its text.
#[derive(Debug, Clone, PartialEq)]
struct Ordered(Value);

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self.0.as_i64(), other.0.as_i64()) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => self.0.to_string().cmp(&other.0.to_string()),
        }
    }
}

fn list(stored: &Value, what: &str) -> Result<Vec<Value>, String> {
    match stored {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items.clone()),
        other => Err(format!("the stored {what} {other} is not a list")),
    }
}

fn elements(stored: &Value, what: &str) -> Result<BTreeSet<Ordered>, String> {
    Ok(list(stored, what)?.into_iter().map(Ordered).collect())
}

fn to_array(set: BTreeSet<Ordered>) -> Value {
    Value::Array(set.into_iter().map(|o| o.0).collect())
}

fn count(stored: &Value) -> Result<i64, String> {
    match stored {
        Value::Null => Ok(0),
        other => other
            .as_i64()
            .ok_or_else(|| format!("the stored count {other} is not an integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(f: &str, key: Option<Value>, value: Value) -> OpRequest {
        OpRequest::new(f, key, value)
    }

    fn run(op: &OpRequest, snapshot: &[Value]) -> Applied {
        let plan = plan(op, &|k| format!("p/{k}")).unwrap();
        assert_eq!(plan.reads.len(), snapshot.len(), "{:?}", plan.reads);
        apply(op, &plan, snapshot).unwrap()
    }

    fn done(value: Value, writes: &[(&str, Value)]) -> Applied {
        Applied::Done {
            value,
            writes: writes
                .iter()
                .map(|(p, v)| (p.to_string(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn register_ops_read_write_and_compare() {
        let k = Some(json!("x"));
        assert_eq!(
            run(&op("read", k.clone(), Value::Null), &[json!(3)]),
            done(json!(3), &[])
        );
        assert_eq!(
            run(&op("write", k.clone(), json!(4)), &[]),
            done(json!(4), &[("p/x", json!(4))])
        );
        let cas = op("cas", k.clone(), json!([3, 5]));
        assert_eq!(
            run(&cas, &[json!(3)]),
            done(json!([3, 5]), &[("p/x", json!(5))])
        );
        assert!(matches!(run(&cas, &[json!(4)]), Applied::Refused(_)));
    }

    #[test]
    fn sets_counters_ids_and_queues_follow_their_vocabulary() {
        let s = Some(json!("set"));
        assert_eq!(
            run(&op("add", s.clone(), json!(2)), &[json!([1, 3])]),
            done(json!(2), &[("p/set", json!([1, 2, 3]))])
        );
        assert_eq!(
            run(&op("add", s.clone(), json!(1)), &[json!([1])]),
            done(json!(1), &[])
        );
        assert_eq!(
            run(&op("read", s, Value::Null), &[Value::Null]),
            done(json!([]), &[])
        );
        let c = Some(json!("counter"));
        assert_eq!(
            run(&op("add", c.clone(), json!(-2)), &[json!(5)]),
            done(json!(-2), &[("p/counter", json!(3))])
        );
        assert_eq!(
            run(&op("read", c, Value::Null), &[Value::Null]),
            done(json!(0), &[])
        );
        assert_eq!(
            run(&op("generate", None, Value::Null), &[json!(7)]),
            done(json!(8), &[("p/unique-ids", json!(8))])
        );
        let q = Some(json!("queue"));
        assert_eq!(
            run(&op("enqueue", q.clone(), json!(9)), &[json!([8])]),
            done(json!(9), &[("p/queue", json!([8, 9]))])
        );
        assert_eq!(
            run(&op("dequeue", q.clone(), Value::Null), &[json!([8, 9])]),
            done(json!(8), &[("p/queue", json!([9]))])
        );
        assert_eq!(
            run(&op("dequeue", q.clone(), Value::Null), &[Value::Null]),
            done(Value::Null, &[])
        );
        assert_eq!(
            run(&op("drain", q, Value::Null), &[json!([1, 2])]),
            done(json!([1, 2]), &[("p/queue", json!([]))])
        );
    }

    #[test]
    fn bank_transfers_keep_the_total_and_refuse_overdrafts() {
        let init = op("init", None, json!({"0": 5, "1": 5}));
        assert_eq!(
            run(&init, &[Value::Null, Value::Null]),
            done(
                json!({"0": 5, "1": 5}),
                &[("p/bank-0", json!(5)), ("p/bank-1", json!(5))]
            )
        );
        assert_eq!(
            run(&init, &[json!(2), json!(8)]),
            done(json!({"0": 2, "1": 8}), &[])
        );
        let transfer = op("transfer", None, json!({"from": 0, "to": 1, "amount": 3}));
        assert_eq!(
            run(&transfer, &[json!(5), json!(5)]),
            done(
                transfer.value.clone(),
                &[("p/bank-0", json!(2)), ("p/bank-1", json!(8))]
            )
        );
        assert!(matches!(
            run(&transfer, &[json!(2), json!(8)]),
            Applied::Refused(_)
        ));
        assert_eq!(
            run(&op("read", None, json!([0, 1])), &[json!(2), json!(8)]),
            done(json!({"0": 2, "1": 8}), &[])
        );
    }

    #[test]
    fn malformed_ops_are_refused_before_anything_is_sent() {
        let path = |k: &str| k.to_string();
        assert!(plan(&op("cas", None, json!(1)), &path)
            .unwrap_err()
            .contains("[from, to]"));
        assert!(plan(&op("fly", None, json!(1)), &path)
            .unwrap_err()
            .contains("fly"));
        let self_transfer = op("transfer", None, json!({"from": 1, "to": 1, "amount": 1}));
        assert!(plan(&self_transfer, &path).unwrap_err().contains("itself"));
    }
}
