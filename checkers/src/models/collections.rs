//! The `fifo-queue` (enqueue/dequeue) and `set` (add/read) models, whose states are
//! collections of interned values.
//!
//! This file must never know how a history is searched; it only defines the two objects.

use serde_json::Value;

use super::{bad_initial, unknown_function, Encoded, Interner, Model, ModelError, OpView};

/// What a queue op asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueInput {
    /// Add a value at the back.
    Enqueue(u32),
    /// Take the value at the front; the output is that value, or nil when the queue was empty.
    Dequeue,
}

/// A first-in first-out queue, empty unless `--initial` gives a JSON array (front first).
#[derive(Debug, Clone, Default)]
pub struct FifoQueue {
    initial: Vec<Value>,
}

fn initial_array(model: &str, initial: Option<Value>) -> Result<Vec<Value>, ModelError> {
    match initial {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(bad_initial(
            model,
            &other,
            "give a JSON array such as [1, 2]",
        )),
    }
}

impl FifoQueue {
    /// A queue holding `initial` (a JSON array, front first; `None` = empty).
    pub fn new(initial: Option<Value>) -> Result<FifoQueue, ModelError> {
        Ok(FifoQueue {
            initial: initial_array("fifo-queue", initial)?,
        })
    }
}

impl Model for FifoQueue {
    type State = Vec<u32>;
    type Input = QueueInput;
    type Output = u32;

    fn name(&self) -> &str {
        "fifo-queue"
    }
    fn init(&self, values: &mut Interner) -> Vec<u32> {
        self.initial.iter().map(|v| values.intern(v)).collect()
    }
    fn encode(
        &self,
        op: OpView<'_>,
        values: &mut Interner,
    ) -> Result<Encoded<QueueInput, u32>, String> {
        match op.f {
            "enqueue" => Ok(Encoded::write(QueueInput::Enqueue(values.intern(op.input)))),
            "dequeue" => Ok(Encoded::update(
                QueueInput::Dequeue,
                op.output.map(|v| values.intern(v)),
            )),
            other => Err(unknown_function("fifo-queue", other, "enqueue, dequeue")),
        }
    }
    fn step(&self, queue: &Vec<u32>, input: &QueueInput, output: Option<&u32>) -> Option<Vec<u32>> {
        match (input, output) {
            (QueueInput::Enqueue(v), _) => {
                let mut next = queue.clone();
                next.push(*v);
                Some(next)
            }
            (QueueInput::Dequeue, Some(&Interner::NIL)) => queue.is_empty().then(Vec::new),
            (QueueInput::Dequeue, Some(&v)) => {
                (queue.first() == Some(&v)).then(|| queue[1..].to_vec())
            }
            (QueueInput::Dequeue, None) => Some(queue.get(1..).unwrap_or_default().to_vec()),
        }
    }
    fn describe_state(&self, queue: &Vec<u32>, values: &Interner) -> String {
        let items: Vec<String> = queue.iter().map(|&v| values.describe(v)).collect();
        format!("[{}]", items.join(", "))
    }
    fn state_heap_bytes(&self, queue: &Vec<u32>) -> usize {
        queue.capacity() * 4
    }
}

/// What a set op asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetInput {
    /// Add a value.
    Add(u32),
    /// Read the whole set; the output is every element.
    Read,
}

/// A grow-only set, empty unless `--initial` gives a JSON array of elements.
#[derive(Debug, Clone, Default)]
pub struct SetModel {
    initial: Vec<Value>,
}

impl SetModel {
    /// A set holding `initial` (a JSON array; `None` = empty).
    pub fn new(initial: Option<Value>) -> Result<SetModel, ModelError> {
        Ok(SetModel {
            initial: initial_array("set", initial)?,
        })
    }
}

fn sorted_ids(items: &[Value], values: &mut Interner) -> Vec<u32> {
    let mut ids: Vec<u32> = items.iter().map(|v| values.intern(v)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl Model for SetModel {
    type State = Vec<u32>;
    type Input = SetInput;
    type Output = Vec<u32>;

    fn name(&self) -> &str {
        "set"
    }
    fn init(&self, values: &mut Interner) -> Vec<u32> {
        sorted_ids(&self.initial, values)
    }
    fn encode(
        &self,
        op: OpView<'_>,
        values: &mut Interner,
    ) -> Result<Encoded<SetInput, Vec<u32>>, String> {
        match op.f {
            "add" => Ok(Encoded::write(SetInput::Add(values.intern(op.input)))),
            "read" => {
                let output = match op.output {
                    None => None,
                    Some(Value::Null) => Some(Vec::new()),
                    Some(Value::Array(items)) => Some(sorted_ids(items, values)),
                    Some(other) => {
                        return Err(format!(
                            "a set read returns a JSON array of elements, found {other}"
                        ))
                    }
                };
                Ok(Encoded::read(SetInput::Read, output))
            }
            other => Err(unknown_function("set", other, "add, read")),
        }
    }
    fn step(
        &self,
        set: &Vec<u32>,
        input: &SetInput,
        output: Option<&Vec<u32>>,
    ) -> Option<Vec<u32>> {
        match input {
            SetInput::Add(v) => {
                let mut next = set.clone();
                if let Err(at) = next.binary_search(v) {
                    next.insert(at, *v);
                }
                Some(next)
            }
            SetInput::Read => match output {
                Some(seen) => (seen == set).then(|| set.clone()),
                None => Some(set.clone()),
            },
        }
    }
    fn describe_state(&self, set: &Vec<u32>, values: &Interner) -> String {
        let items: Vec<String> = set.iter().map(|&v| values.describe(v)).collect();
        format!("#{{{}}}", items.join(", "))
    }
    fn state_heap_bytes(&self, set: &Vec<u32>) -> usize {
        set.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::models::test_support::{assert_verdicts, history, sequential};
    use serde_json::json;

    #[test]
    fn a_queue_dequeues_in_order_and_concurrent_enqueues_in_either() {
        use Validity::*;
        let in_order = sequential(&[
            (0, "enqueue", json!(1), json!(1)),
            (0, "enqueue", json!(2), json!(2)),
            (1, "dequeue", json!(null), json!(1)),
            (1, "dequeue", json!(null), json!(2)),
            (1, "dequeue", json!(null), json!(null)),
        ]);
        let out_of_order = sequential(&[
            (0, "enqueue", json!(1), json!(1)),
            (0, "enqueue", json!(2), json!(2)),
            (1, "dequeue", json!(null), json!(2)),
        ]);
        let concurrent = history(&[
            (0, "invoke", "enqueue", json!(1)),
            (1, "invoke", "enqueue", json!(2)),
            (0, "ok", "enqueue", json!(1)),
            (1, "ok", "enqueue", json!(2)),
            (2, "invoke", "dequeue", json!(null)),
            (2, "ok", "dequeue", json!(2)),
        ]);
        assert_verdicts(
            &FifoQueue::default(),
            &[
                ("dequeues in enqueue order, then empty", in_order, Valid),
                ("the later enqueue dequeued first", out_of_order, Invalid),
                (
                    "concurrent enqueues dequeued either first",
                    concurrent,
                    Valid,
                ),
            ],
        );
    }

    #[test]
    fn set_reads_see_every_completed_add() {
        use Validity::*;
        let good = history(&[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (1, "invoke", "add", json!(2)),
            (2, "invoke", "read", json!(null)),
            (2, "ok", "read", json!([1])),
            (1, "ok", "add", json!(2)),
            (2, "invoke", "read", json!(null)),
            (2, "ok", "read", json!([2, 1])),
        ]);
        let lost = sequential(&[
            (0, "add", json!(1), json!(1)),
            (2, "read", json!(null), json!([])),
        ]);
        let sees_seed = sequential(&[(2, "read", json!(null), json!([7]))]);
        assert_verdicts(
            &SetModel::default(),
            &[
                ("a concurrent add seen or not", good, Valid),
                ("a completed add missing", lost, Invalid),
                ("an element never added", sees_seed.clone(), Invalid),
            ],
        );
        let seeded = SetModel::new(Some(json!([7]))).unwrap();
        assert_verdicts(&seeded, &[("the seed read", sees_seed, Valid)]);
    }
}
