//! The workload options of a spec: how ops spread over keys (`--keys`, or independent keys),
//! the transaction options of `append` and `wr`, and the classic workloads' options, each
//! refused on workloads that do not use it.

use anyhow::Result;
use faultline_workloads::{
    ClassicOptions, Keys, TxnOptions, DEFAULT_KEY_COUNT, DEFAULT_MAX_TXN_LENGTH,
    DEFAULT_MAX_WRITES_PER_KEY, DEFAULT_MIN_TXN_LENGTH, DEFAULT_OPS_PER_KEY,
    DEFAULT_THREADS_PER_KEY,
};

use super::TestSpec;
use crate::cli::TestArgs;
use crate::exit::bad_input;

impl TestSpec {
    /// How the workload spreads its ops over keys, as resolved from the command line.
    pub fn keys(&self) -> Keys {
        match (self.keys, self.threads_per_key, self.ops_per_key) {
            (Some(count), _, _) => Keys::Fixed { count },
            (None, threads_per_key, ops_per_key) => Keys::Independent {
                threads_per_key: threads_per_key.unwrap_or(DEFAULT_THREADS_PER_KEY),
                ops_per_key: ops_per_key.unwrap_or(DEFAULT_OPS_PER_KEY),
            },
        }
    }
}

impl TestSpec {
    /// The transaction options of a transactional workload, as resolved from the command line
    /// (the defaults for any value the spec leaves out).
    pub fn txn(&self) -> TxnOptions {
        TxnOptions {
            key_count: self.key_count.unwrap_or(DEFAULT_KEY_COUNT),
            min_txn_length: self.min_txn_length.unwrap_or(DEFAULT_MIN_TXN_LENGTH),
            max_txn_length: self.max_txn_length.unwrap_or(DEFAULT_MAX_TXN_LENGTH),
            max_writes_per_key: self
                .max_writes_per_key
                .unwrap_or(DEFAULT_MAX_WRITES_PER_KEY),
        }
    }

    /// The workload options the spec resolves to.
    pub fn workload_options(&self) -> faultline_workloads::WorkloadOptions {
        workload_options(self.keys(), self.txn(), self.classic)
    }
}

/// Whether `--workload` names a transactional workload (`append`, `wr`).
fn is_txn_workload(workload: &str) -> bool {
    faultline_workloads::by_name(workload, &faultline_workloads::WorkloadOptions::default())
        .is_ok_and(|w| faultline_workloads::txn::is_txn_model(w.model()))
}

/// The transaction options of `--workload append|wr` (`None` for other workloads), refusing
/// the options of the other kind of workload.
pub(super) fn resolve_txn(args: &TestArgs) -> Result<Option<TxnOptions>> {
    let txn_flags = [
        args.key_count.map(|_| "--key-count"),
        args.min_txn_length.map(|_| "--min-txn-length"),
        args.max_txn_length.map(|_| "--max-txn-length"),
        args.max_writes_per_key.map(|_| "--max-writes-per-key"),
        (args.consistency_models != crate::cli::DEFAULT_CONSISTENCY_MODELS)
            .then_some("--consistency-models"),
    ];
    if !is_txn_workload(&args.workload) {
        if let Some(flag) = txn_flags.into_iter().flatten().next() {
            bad_input!(
                "{flag} is for the transactional workloads (--workload append or wr), not \
                 --workload {}",
                args.workload
            );
        }
        return Ok(None);
    }
    let key_flags = [
        args.keys.map(|_| "--keys"),
        args.threads_per_key.map(|_| "--threads-per-key"),
        args.ops_per_key.map(|_| "--ops-per-key"),
    ];
    if let Some(flag) = key_flags.into_iter().flatten().next() {
        bad_input!(
            "{flag} is for the register workload; --workload {} spreads its transactions over \
             --key-count keys, rotated after --max-writes-per-key writes",
            args.workload
        );
    }
    let min_txn_length = args.min_txn_length.unwrap_or(DEFAULT_MIN_TXN_LENGTH);
    let options = TxnOptions {
        key_count: args.key_count.unwrap_or(DEFAULT_KEY_COUNT),
        min_txn_length,
        // A --min-txn-length above the default maximum raises the maximum with it.
        max_txn_length: args
            .max_txn_length
            .unwrap_or(DEFAULT_MAX_TXN_LENGTH.max(min_txn_length)),
        max_writes_per_key: args
            .max_writes_per_key
            .unwrap_or(DEFAULT_MAX_WRITES_PER_KEY),
    };
    match options.validate() {
        Ok(options) => Ok(Some(options)),
        Err(e) => bad_input!("{e}"),
    }
}

/// `--consistency-models`: a comma-separated list of model names (Elle's, or their aliases
/// such as `PL-3`), each named once, as the transactional checker knows them.
pub(crate) fn parse_consistency_models(text: &str) -> Result<Vec<String>> {
    let mut models: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim) {
        if name.is_empty() {
            bad_input!(
                "--consistency-models '{text}': '{name}' is not a model name; give names \
                 separated by commas, e.g. strict-serializable or serializable,snapshot-isolation"
            );
        }
        if let Err(e) = name.parse::<faultline_checkers::txn::ConsistencyModel>() {
            bad_input!("--consistency-models: {e}");
        }
        if models.iter().any(|m| m == name) {
            bad_input!("--consistency-models '{text}': {name} is named twice");
        }
        models.push(name.to_string());
    }
    Ok(models)
}

/// `--keys`, or independent keys from `--threads-per-key` and `--ops-per-key` (the default).
pub(super) fn resolve_keys(args: &TestArgs) -> Result<Keys> {
    if let Some(count) = args.keys {
        if let Some(flag) = [
            args.threads_per_key.map(|_| "--threads-per-key"),
            args.ops_per_key.map(|_| "--ops-per-key"),
        ]
        .into_iter()
        .flatten()
        .next()
        {
            bad_input!(
                "--keys {count} gives a fixed key set, and {flag} is for independent keys \
                 (the default without --keys): give one or the other"
            );
        }
        if count == 0 {
            bad_input!(
                "--keys 0: the workload needs at least one key; give e.g. --keys 5, or leave \
                 --keys out for independent keys"
            );
        }
        return Ok(Keys::Fixed { count });
    }
    let threads_per_key = args.threads_per_key.unwrap_or(DEFAULT_THREADS_PER_KEY);
    if threads_per_key == 0 {
        bad_input!(
            "--threads-per-key 0: every key needs at least one worker; give e.g. \
             --threads-per-key {DEFAULT_THREADS_PER_KEY}"
        );
    }
    let ops_per_key = args.ops_per_key.unwrap_or(DEFAULT_OPS_PER_KEY);
    if ops_per_key == 0 {
        bad_input!(
            "--ops-per-key 0: a key needs at least one op before it is retired; give e.g. \
             --ops-per-key {DEFAULT_OPS_PER_KEY}"
        );
    }
    Ok(Keys::Independent {
        threads_per_key,
        ops_per_key,
    })
}

/// The workload options derived from the command line.
pub fn workload_options(
    keys: Keys,
    txn: TxnOptions,
    classic: ClassicOptions,
) -> faultline_workloads::WorkloadOptions {
    faultline_workloads::WorkloadOptions {
        keys,
        txn,
        classic,
        ..Default::default()
    }
}

/// The options of the classic workloads, refusing each on a workload that does not use it.
pub(super) fn resolve_classic(args: &TestArgs) -> Result<ClassicOptions> {
    let defaults = ClassicOptions::default();
    let flags: [(&str, bool, &[&str]); 6] = [
        ("--accounts", args.accounts.is_some(), &["bank"]),
        ("--total-amount", args.total_amount.is_some(), &["bank"]),
        ("--max-transfer", args.max_transfer.is_some(), &["bank"]),
        ("--negative-balances", args.negative_balances, &["bank"]),
        ("--linearizable", args.linearizable, &["set", "queue"]),
        ("--decrements", args.decrements, &["counter"]),
    ];
    for (flag, given, workloads) in flags {
        if given && !workloads.contains(&args.workload.as_str()) {
            bad_input!(
                "{flag} is for --workload {}, not --workload {}: drop it",
                workloads.join(" and "),
                args.workload
            );
        }
    }
    Ok(ClassicOptions {
        linearizable: args.linearizable,
        decrements: args.decrements,
        accounts: args.accounts.unwrap_or(defaults.accounts),
        total: args.total_amount.unwrap_or(defaults.total),
        max_transfer: args.max_transfer.unwrap_or(defaults.max_transfer),
        negative_balances: args.negative_balances,
    })
}
