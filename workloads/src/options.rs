//! What a user can tune about a workload ([`WorkloadOptions`]: how ops spread over
//! [`Keys`], the operation mix, the shape of transactions in [`TxnOptions`], the knobs of the
//! classic workloads in [`ClassicOptions`]), parsing of the
//! mix (`read=2,write=1,cas=1`), and the errors for options a workload cannot honour.
//!
//! Validation only: nothing here builds generators.

/// Options common to every workload; each workload reads the ones that apply to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkloadOptions {
    /// How operations are spread over keys. Default: [`Keys::default`], independent keys.
    pub keys: Keys,
    /// The relative weight of each operation, e.g. `[("read", 2), ("write", 1)]`. Empty means
    /// the workload's default mix; otherwise operations not named get weight 0.
    pub mix: Vec<(String, u32)>,
    /// The shape of transactions, for the transactional workloads (`append`, `wr`).
    pub txn: TxnOptions,
    /// The knobs of the classic workloads (`set`, `bank`, `counter`, `queue`).
    pub classic: ClassicOptions,
}

/// The knobs of the classic workloads, with Jepsen's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClassicOptions {
    /// `set` and `queue`: the system claims linearizability, so a stale set read is a
    /// violation, and queue histories also go to the `fifo-queue` linearizability checker
    /// (default false, as Jepsen's `set-full`).
    pub linearizable: bool,
    /// `counter`: generate decrements too, not only increments (default false).
    pub decrements: bool,
    /// `bank`: how many accounts (default 8).
    pub accounts: usize,
    /// `bank`: the total of all balances, spread evenly over the accounts (default 100).
    pub total: i64,
    /// `bank`: the largest amount a transfer moves (default 5; amounts are 1..=this).
    pub max_transfer: i64,
    /// `bank`: balances may go below zero (default false: a negative balance is an error).
    pub negative_balances: bool,
}

impl Default for ClassicOptions {
    fn default() -> Self {
        ClassicOptions {
            linearizable: false,
            decrements: false,
            accounts: 8,
            total: 100,
            max_transfer: 5,
            negative_balances: false,
        }
    }
}

impl ClassicOptions {
    /// Checks the bank's numbers: errs naming the first that cannot work.
    pub fn validate_bank(self) -> Result<Self, WorkloadError> {
        let bad = |flag: &'static str, given: i64, reason: &str| {
            Err(WorkloadError::BadOption {
                flag,
                given: given.to_string(),
                reason: reason.to_string(),
            })
        };
        if self.accounts < 2 {
            return bad(
                "--accounts",
                self.accounts as i64,
                "a transfer needs two accounts; give e.g. --accounts 8",
            );
        }
        if self.total < 0 {
            return bad(
                "--total",
                self.total,
                "give a total of at least 0, e.g. 100",
            );
        }
        if self.max_transfer < 1 {
            return bad(
                "--max-transfer",
                self.max_transfer,
                "a transfer moves at least 1; give e.g. --max-transfer 5",
            );
        }
        Ok(self)
    }
}

/// How the transactional workloads (`append`, `wr`) shape their transactions, with Jepsen's
/// (Elle's `wr-txns`) option names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOptions {
    /// Keys active at once (`--key-count`, default 10, as Elle's exponential key
    /// distribution).
    pub key_count: usize,
    /// Fewest micro-ops in a transaction (`--min-txn-length`, default 1).
    pub min_txn_length: usize,
    /// Most micro-ops in a transaction (`--max-txn-length`, default 2).
    pub max_txn_length: usize,
    /// Writes (appends) a key receives before it is replaced by a fresh key
    /// (`--max-writes-per-key`, default 32).
    pub max_writes_per_key: u64,
}

/// Elle's default number of active keys for its exponential key distribution.
pub const DEFAULT_KEY_COUNT: usize = 10;
/// Elle's default fewest micro-ops per transaction.
pub const DEFAULT_MIN_TXN_LENGTH: usize = 1;
/// Elle's default most micro-ops per transaction.
pub const DEFAULT_MAX_TXN_LENGTH: usize = 2;
/// Elle's default writes per key before the key is rotated.
pub const DEFAULT_MAX_WRITES_PER_KEY: u64 = 32;

impl Default for TxnOptions {
    fn default() -> Self {
        TxnOptions {
            key_count: DEFAULT_KEY_COUNT,
            min_txn_length: DEFAULT_MIN_TXN_LENGTH,
            max_txn_length: DEFAULT_MAX_TXN_LENGTH,
            max_writes_per_key: DEFAULT_MAX_WRITES_PER_KEY,
        }
    }
}

impl TxnOptions {
    /// Checks the counts: errs naming the first flag whose value cannot work.
    pub fn validate(self) -> Result<Self, WorkloadError> {
        let bad = |flag: &'static str, given: u64, reason: String| {
            Err(WorkloadError::BadTxnOption {
                flag,
                given,
                reason,
            })
        };
        if self.key_count == 0 {
            return bad(
                "--key-count",
                0,
                format!("a transaction needs at least one key; give e.g. --key-count {DEFAULT_KEY_COUNT}"),
            );
        }
        if self.min_txn_length == 0 {
            return bad(
                "--min-txn-length",
                0,
                "a transaction needs at least one micro-op; give e.g. --min-txn-length 1".into(),
            );
        }
        if self.max_txn_length < self.min_txn_length {
            return bad(
                "--max-txn-length",
                self.max_txn_length as u64,
                format!(
                    "it is below --min-txn-length {}; give at least that",
                    self.min_txn_length
                ),
            );
        }
        if self.max_txn_length > MAX_TXN_LENGTH {
            return bad(
                "--max-txn-length",
                self.max_txn_length as u64,
                format!("give at most {MAX_TXN_LENGTH} micro-ops per transaction"),
            );
        }
        if self.max_writes_per_key == 0 {
            return bad(
                "--max-writes-per-key",
                0,
                format!(
                    "a key must take at least one write before it is rotated; give e.g. \
                     --max-writes-per-key {DEFAULT_MAX_WRITES_PER_KEY}"
                ),
            );
        }
        Ok(self)
    }
}

/// The longest transaction the workloads generate (a sanity bound on `--max-txn-length`).
pub const MAX_TXN_LENGTH: usize = 1000;

/// Workers that share one key by default (`--threads-per-key`).
///
/// Jepsen's register tests use 10 threads per key with a concurrency of 10 (one key at a
/// time, its whole history as concurrent as the test). faultline's default concurrency is 10
/// too (`2n` on 5 nodes), so by default every worker works on the same key: as much
/// contention on a key as the run can give, while the key's history stays small.
pub const DEFAULT_THREADS_PER_KEY: usize = 10;

/// Ops generated on a key before its workers retire it and take a fresh one by default
/// (`--ops-per-key`).
///
/// Linearizability checking is exponential in the worst case in the length and concurrency
/// of a key's history; a few hundred ops with 10 concurrent workers (and the indeterminate
/// ops faults leave behind) check in well under a second, yet span several fault intervals
/// at the default 100 ops/s (a key lives about 2 s, faults change every 5 s). Jepsen's
/// etcd and ZooKeeper register tests use limits of the same order.
pub const DEFAULT_OPS_PER_KEY: u64 = 200;

/// How a workload spreads its operations over keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// A fixed set of keys `0..count`, any worker on any key (`--keys N`).
    Fixed {
        /// How many keys.
        count: usize,
    },
    /// Jepsen's independent keys (`jepsen.independent/concurrent-generator`): workers are
    /// split into groups of `threads_per_key` (worker `i` is in group `i / threads_per_key`);
    /// each group works on a key of its own, and after `ops_per_key` ops have been generated
    /// on it the group retires it and takes a fresh one. Keys are never reused, so every key's
    /// history stays small and is checked on its own.
    Independent {
        /// Workers per group, at least 1. More than the workers of the run means one group.
        threads_per_key: usize,
        /// Ops on a key before it is retired, at least 1.
        ops_per_key: u64,
    },
}

impl Default for Keys {
    fn default() -> Self {
        Keys::Independent {
            threads_per_key: DEFAULT_THREADS_PER_KEY,
            ops_per_key: DEFAULT_OPS_PER_KEY,
        }
    }
}

impl Keys {
    /// Checks the counts: errs on zero keys, zero threads per key or zero ops per key.
    pub fn validate(self, workload: &str) -> Result<Self, WorkloadError> {
        let workload = workload.to_string();
        match self {
            Keys::Fixed { count: 0 } => Err(WorkloadError::NoKeys { workload }),
            Keys::Independent {
                threads_per_key: 0, ..
            } => Err(WorkloadError::NoThreadsPerKey { workload }),
            Keys::Independent { ops_per_key: 0, .. } => {
                Err(WorkloadError::NoOpsPerKey { workload })
            }
            ok => Ok(ok),
        }
    }
}

/// Why a workload could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// No workload has this name.
    #[error("unknown workload \"{name}\"; known workloads: {known}")]
    UnknownWorkload {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// Zero keys.
    #[error("workload {workload} needs at least one key, got 0 (try 5)")]
    NoKeys {
        /// The workload.
        workload: String,
    },
    /// Zero workers per key.
    #[error("workload {workload} needs at least one worker per key, got 0 (try {DEFAULT_THREADS_PER_KEY})")]
    NoThreadsPerKey {
        /// The workload.
        workload: String,
    },
    /// Zero ops per key.
    #[error(
        "workload {workload} needs at least one op per key, got 0 (try {DEFAULT_OPS_PER_KEY})"
    )]
    NoOpsPerKey {
        /// The workload.
        workload: String,
    },
    /// A transaction option that cannot work, named by its flag.
    #[error("{flag} {given}: {reason}")]
    BadTxnOption {
        /// The flag, e.g. `--key-count`.
        flag: &'static str,
        /// The value given.
        given: u64,
        /// Why it cannot work, and what to give instead.
        reason: String,
    },
    /// A classic workload's option that cannot work, named by its flag.
    #[error("{flag} {given}: {reason}")]
    BadOption {
        /// The flag, e.g. `--accounts`.
        flag: &'static str,
        /// The value given.
        given: String,
        /// Why it cannot work, and what to give instead.
        reason: String,
    },
    /// The mix names an operation the workload does not have.
    #[error("workload {workload} has no operation \"{f}\" to mix; its operations: {known}")]
    UnknownOperation {
        /// The workload.
        workload: String,
        /// The unknown operation.
        f: String,
        /// The workload's operations, comma-separated.
        known: String,
    },
    /// The mix gives weight 0 to every operation.
    #[error("the mix for workload {workload} gives every operation weight 0; give at least one a positive weight, e.g. read=1")]
    EmptyMix {
        /// The workload.
        workload: String,
    },
    /// The mix text could not be parsed.
    #[error("mix \"{text}\": {reason}; expected operation=weight pairs separated by commas, e.g. read=2,write=1,cas=1")]
    BadMix {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Parses a mix such as `read=2,write=1,cas=1` (weights are non-negative integers; an
/// operation may be named once).
pub fn parse_mix(text: &str) -> Result<Vec<(String, u32)>, WorkloadError> {
    let bad = |reason: String| WorkloadError::BadMix {
        text: text.to_string(),
        reason,
    };
    let mut mix: Vec<(String, u32)> = Vec::new();
    for part in text.split(',').map(str::trim) {
        let Some((f, weight)) = part.split_once('=') else {
            return Err(bad(format!("\"{part}\" has no '='")));
        };
        let f = f.trim();
        if f.is_empty() {
            return Err(bad(format!("\"{part}\" names no operation")));
        }
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| bad(format!("weight of {f} is not a non-negative integer")))?;
        if mix.iter().any(|(g, _)| g == f) {
            return Err(bad(format!("{f} is named twice")));
        }
        mix.push((f.to_string(), weight));
    }
    Ok(mix)
}

/// The weight of each of a workload's operations (in the order of `defaults`), from the
/// options' mix, or the defaults when the options give none.
pub(crate) fn resolve_mix(
    workload: &str,
    defaults: &[(&str, u32)],
    given: &[(String, u32)],
) -> Result<Vec<u32>, WorkloadError> {
    if given.is_empty() {
        return Ok(defaults.iter().map(|(_, w)| *w).collect());
    }
    let mut weights = vec![0; defaults.len()];
    for (f, weight) in given {
        let Some(i) = defaults.iter().position(|(g, _)| g == f) else {
            return Err(WorkloadError::UnknownOperation {
                workload: workload.to_string(),
                f: f.clone(),
                known: defaults
                    .iter()
                    .map(|(g, _)| *g)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        weights[i] = *weight;
    }
    if weights.iter().all(|w| *w == 0) {
        return Err(WorkloadError::EmptyMix {
            workload: workload.to_string(),
        });
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_options_default_to_elles_and_bad_ones_name_their_flag() {
        let d = TxnOptions::default();
        assert_eq!(
            (
                d.key_count,
                d.min_txn_length,
                d.max_txn_length,
                d.max_writes_per_key
            ),
            (10, 1, 2, 32)
        );
        assert_eq!(d.validate(), Ok(d));
        for (options, message) in [
            (
                TxnOptions { key_count: 0, ..d },
                "--key-count 0: a transaction needs at least one key; give e.g. --key-count 10",
            ),
            (
                TxnOptions { min_txn_length: 0, ..d },
                "--min-txn-length 0: a transaction needs at least one micro-op; give e.g. --min-txn-length 1",
            ),
            (
                TxnOptions { min_txn_length: 3, max_txn_length: 2, ..d },
                "--max-txn-length 2: it is below --min-txn-length 3; give at least that",
            ),
            (
                TxnOptions { max_txn_length: 5000, ..d },
                "--max-txn-length 5000: give at most 1000 micro-ops per transaction",
            ),
            (
                TxnOptions { max_writes_per_key: 0, ..d },
                "--max-writes-per-key 0: a key must take at least one write before it is rotated; give e.g. --max-writes-per-key 32",
            ),
        ] {
            let err = options.validate().unwrap_err().to_string();
            assert_eq!(err, message);
            assert!(!err.contains('\n'));
        }
    }

    const RWC: [(&str, u32); 3] = [("read", 2), ("write", 1), ("cas", 1)];

    fn mix(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs.iter().map(|(f, w)| (f.to_string(), *w)).collect()
    }

    #[test]
    fn parses_a_mix() {
        assert_eq!(
            parse_mix("read=2, write=1 ,cas=0").unwrap(),
            mix(&[("read", 2), ("write", 1), ("cas", 0)])
        );
    }

    #[test]
    fn rejects_bad_mixes_with_the_reason() {
        for (text, reason) in [
            ("read", "has no '='"),
            ("=1", "names no operation"),
            ("read=-1", "not a non-negative integer"),
            ("read=x", "not a non-negative integer"),
            ("read=1,read=2", "named twice"),
            ("", "has no '='"),
        ] {
            let err = parse_mix(text).unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(err.contains("e.g. read=2,write=1,cas=1"), "{err}");
        }
    }

    #[test]
    fn resolves_against_the_workloads_operations() {
        assert_eq!(resolve_mix("register", &RWC, &[]).unwrap(), vec![2, 1, 1]);
        assert_eq!(
            resolve_mix("register", &RWC, &mix(&[("cas", 3), ("read", 1)])).unwrap(),
            vec![1, 0, 3]
        );
        let err = resolve_mix("register", &RWC, &mix(&[("append", 1)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "workload register has no operation \"append\" to mix; its operations: read, write, cas"
        );
        let err = resolve_mix("register", &RWC, &mix(&[("read", 0)])).unwrap_err();
        assert!(matches!(err, WorkloadError::EmptyMix { .. }));
    }
}
