//! Tests of resolving `faultline test` arguments into a spec.

use super::units::parse_size;
use super::*;
use faultline_workloads::TxnOptions;

#[test]
fn concurrency_per_node() {
    assert_eq!(parse_concurrency("3n", 5).unwrap(), 15);
    assert_eq!(parse_concurrency("7", 5).unwrap(), 7);
    assert!(parse_concurrency("x", 5).is_err());
    assert!(parse_concurrency("0n", 5).is_err());
}

fn resolve(args: &[&str]) -> Result<TestSpec> {
    use clap::Parser;
    let cli =
        crate::cli::Cli::try_parse_from(["faultline", "test"].iter().chain(args).copied()).unwrap();
    let crate::cli::Command::Test(args) = cli.command else {
        unreachable!()
    };
    TestSpec::resolve(&args)
}

/// Resolves the spec's own rerun line again.
fn rerun(spec: &TestSpec) -> TestSpec {
    let words = shlex::split(&spec.rerun).unwrap();
    let words: Vec<&str> = words.iter().skip(2).map(String::as_str).collect();
    resolve(&words).unwrap()
}

#[test]
fn the_rerun_line_of_an_ssh_run_reaches_the_same_nodes_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("my key");
    std::fs::write(&key, "").unwrap();
    let key = key.display().to_string();
    let ssh = [
        "--target",
        "ssh",
        "--nodes",
        "n1=10.0.0.1,n2=10.0.0.2,n3=10.0.0.3",
        "--username",
        "admin",
        "--ssh-private-key",
        &key,
        "--ssh-port",
        "2222",
        "--sudo",
        "--known-hosts",
        "/tmp/kh",
        "--remote-dir",
        "/srv/fl",
        "--install-mode",
        "copy",
        "--ssh-timeout",
        "4",
    ];
    let spec = resolve(&[&ssh[..], &["--password", "hunter2"]].concat()).unwrap_err();
    // A key and a password together are refused; with the key alone:
    assert!(spec.to_string().contains("not both"), "{spec}");
    let spec =
        resolve(&[&ssh[..], &["--store", "/tmp/my store", "--name", "mine"]].concat()).unwrap();
    let again = rerun(&spec);
    let json = |s: &TestSpec| {
        let mut v = serde_json::to_value(s).unwrap();
        v["rerun"] = serde_json::Value::Null;
        v["node_binary"] = serde_json::Value::Null;
        v
    };
    assert_eq!(json(&spec), json(&again), "{}", spec.rerun);
    assert_eq!(again.rerun, spec.rerun);
    assert_eq!(again.ssh.as_ref().unwrap().node_name(2), "n3");
    assert_eq!(again.install_mode, systems::InstallMode::Copy);

    // A password is never in it; the line says where it comes from instead.
    let spec = resolve(&["--target", "ssh", "--nodes", "a,b", "--password", "hunter2"]).unwrap();
    assert!(!spec.rerun.contains("hunter2"), "{}", spec.rerun);
    assert!(
        spec.rerun.contains("FAULTLINE_SSH_PASSWORD"),
        "{}",
        spec.rerun
    );

    let spec = resolve(&["--target", "docker", "--node-count", "3", "--leave-running"]).unwrap();
    assert!(
        spec.rerun.contains(" --node-count 3 ")
            && spec.rerun.contains(" --target docker")
            && spec.rerun.contains(" --leave-running"),
        "{}",
        spec.rerun
    );
    assert_eq!(json(&rerun(&spec)), json(&spec));
}

#[test]
fn independent_keys_are_the_default_in_spec_json_and_rerun() {
    let spec = resolve(&["--seed", "1"]).unwrap();
    assert_eq!(
        spec.keys(),
        Keys::Independent {
            threads_per_key: 10,
            ops_per_key: 200
        }
    );
    assert!(
        spec.rerun
            .contains(" --threads-per-key 10 --ops-per-key 200 "),
        "{}",
        spec.rerun
    );
    assert!(!spec.rerun.contains("--keys"), "{}", spec.rerun);
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["keys"], serde_json::Value::Null);
    assert_eq!(json["threads_per_key"], 10);
    assert_eq!(json["ops_per_key"], 200);
    assert_eq!(json["memory_limit_bytes"], 2u64 << 30);

    let spec = resolve(&[
        "--seed",
        "1",
        "--threads-per-key",
        "3",
        "--ops-per-key",
        "50",
    ])
    .unwrap();
    let again = rerun(&spec);
    assert_eq!(again.keys(), spec.keys());
    assert_eq!(
        again.keys(),
        Keys::Independent {
            threads_per_key: 3,
            ops_per_key: 50
        }
    );
}

#[test]
fn fixed_keys_from_keys_in_spec_json_and_rerun() {
    let spec = resolve(&["--seed", "1", "--keys", "3", "--memory-limit", "512MiB"]).unwrap();
    assert_eq!(spec.keys(), Keys::Fixed { count: 3 });
    assert!(spec.rerun.contains(" --keys 3 "), "{}", spec.rerun);
    assert!(!spec.rerun.contains("-per-key"), "{}", spec.rerun);
    assert_eq!(rerun(&spec).keys(), Keys::Fixed { count: 3 });
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["keys"], 3);
    assert_eq!(json["threads_per_key"], serde_json::Value::Null);
    assert_eq!(json["memory_limit_bytes"], 512u64 << 20);
}

#[test]
fn bad_key_options_are_one_line_bad_input_naming_the_flag() {
    for (args, message) in [
        (
            &["--keys", "0"][..],
            "--keys 0: the workload needs at least one key; give e.g. --keys 5, or leave \
             --keys out for independent keys",
        ),
        (
            &["--threads-per-key", "0"],
            "--threads-per-key 0: every key needs at least one worker; give e.g. \
             --threads-per-key 10",
        ),
        (
            &["--ops-per-key", "0", "--threads-per-key", "2"],
            "--ops-per-key 0: a key needs at least one op before it is retired; give e.g. \
             --ops-per-key 200",
        ),
        (
            &["--keys", "5", "--ops-per-key", "10"],
            "--keys 5 gives a fixed key set, and --ops-per-key is for independent keys \
             (the default without --keys): give one or the other",
        ),
        (
            &["--threads-per-key", "2", "--keys", "5"],
            "--keys 5 gives a fixed key set, and --threads-per-key is for independent \
             keys (the default without --keys): give one or the other",
        ),
        (
            &["--memory-limit", "2XB"],
            "--memory-limit '2XB': unknown unit 'XB'; give a size such as 512MiB, 2GiB, \
             1G or a byte count",
        ),
    ] {
        let err = resolve(args).unwrap_err();
        assert_eq!(
            crate::exit::code_for(&err),
            crate::exit::BAD_INPUT,
            "{args:?}"
        );
        assert_eq!(err.to_string(), message);
    }
    // More workers per key than workers is one key at a time, not an error.
    let spec = resolve(&["--threads-per-key", "1000", "--concurrency", "2"]).unwrap();
    assert_eq!(spec.threads_per_key, Some(1000));
}

#[test]
fn txn_workloads_take_elles_options_into_spec_json_and_rerun() {
    let spec = resolve(&["--seed", "1", "--workload", "append"]).unwrap();
    assert_eq!(spec.txn(), TxnOptions::default());
    assert_eq!(spec.consistency_models, vec!["strict-serializable"]);
    assert!(
        spec.rerun.contains(
            " --key-count 10 --min-txn-length 1 --max-txn-length 2 \
             --max-writes-per-key 32 --consistency-models strict-serializable "
        ),
        "{}",
        spec.rerun
    );
    assert!(!spec.rerun.contains("-per-key 200"), "{}", spec.rerun);
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["key_count"], 10);
    assert_eq!(json["max_writes_per_key"], 32);
    assert_eq!(json["threads_per_key"], serde_json::Value::Null);
    assert_eq!(
        json["consistency_models"],
        serde_json::json!(["strict-serializable"])
    );

    let spec = resolve(&[
        "--seed",
        "1",
        "--workload",
        "wr",
        "--key-count",
        "3",
        "--min-txn-length",
        "4",
        "--max-writes-per-key",
        "5",
        "--consistency-models",
        "serializable, snapshot-isolation",
    ])
    .unwrap();
    let again = rerun(&spec);
    assert_eq!(again.workload, "wr");
    assert_eq!(
        again.txn(),
        TxnOptions {
            key_count: 3,
            min_txn_length: 4,
            max_txn_length: 4,
            max_writes_per_key: 5
        }
    );
    assert_eq!(
        again.consistency_models,
        vec!["serializable", "snapshot-isolation"]
    );
    // The register's spec and rerun line carry none of it.
    let register = resolve(&["--seed", "1"]).unwrap();
    assert!(
        !register.rerun.contains("--key-count"),
        "{}",
        register.rerun
    );
    assert!(register.consistency_models.is_empty());
    assert_eq!(register.key_count, None);
}

#[test]
fn bad_txn_options_are_one_line_bad_input_naming_the_flag() {
    for (args, message) in [
        (
            &["--workload", "append", "--key-count", "0"][..],
            "--key-count 0: a transaction needs at least one key; give e.g. --key-count 10",
        ),
        (
            &[
                "--workload",
                "wr",
                "--min-txn-length",
                "3",
                "--max-txn-length",
                "2",
            ],
            "--max-txn-length 2: it is below --min-txn-length 3; give at least that",
        ),
        (
            &["--workload", "wr", "--max-writes-per-key", "0"],
            "--max-writes-per-key 0: a key must take at least one write before it is \
             rotated; give e.g. --max-writes-per-key 32",
        ),
        (
            &["--key-count", "3"],
            "--key-count is for the transactional workloads (--workload append or wr), \
             not --workload register",
        ),
        (
            &["--consistency-models", "serializable"],
            "--consistency-models is for the transactional workloads (--workload append or \
             wr), not --workload register",
        ),
        (
            &["--workload", "append", "--ops-per-key", "5"],
            "--ops-per-key is for the register workload; --workload append spreads its \
             transactions over --key-count keys, rotated after --max-writes-per-key writes",
        ),
        (
            &[
                "--workload",
                "append",
                "--consistency-models",
                "serializable,,x",
            ],
            "--consistency-models 'serializable,,x': '' is not a model name; give names \
             separated by commas, e.g. strict-serializable or serializable,snapshot-isolation",
        ),
        (
            &[
                "--workload",
                "append",
                "--consistency-models",
                "serializable,serializable",
            ],
            "--consistency-models 'serializable,serializable': serializable is named twice",
        ),
        (
            &[
                "--workload",
                "append",
                "--consistency-models",
                "serializable,linearizible",
            ],
            "--consistency-models: unknown consistency model \"linearizible\"; known models \
             are ",
        ),
        (
            &["--bug", "txn-stale-reads"],
            "--bug txn-stale-reads breaks transactions (POST /txn), which --workload \
             register never runs: use it with --workload append or wr",
        ),
        (
            &["--workload", "wr", "--bug", "lost-writes"],
            "--bug lost-writes breaks single-key reads and writes (/kv), which --workload wr \
             never uses: its transactions go to POST /txn; use --bug txn-stale-reads",
        ),
        (
            &["--workload", "counter", "--accounts", "3"],
            "--accounts is for --workload bank, not --workload counter: drop it",
        ),
        (
            &["--workload", "bank", "--linearizable"],
            "--linearizable is for --workload set and queue, not --workload bank: drop it",
        ),
        (
            &["--workload", "bank", "--system", "nats"],
            "--system nats: --workload bank writes several keys in one atomic step, and \
             NATS JetStream's key-value store cannot (each key is its own stream subject); \
             the systems that serve bank are reference, etcd, zookeeper, galera and http",
        ),
        (
            &["--workload", "append", "--system", "nats"],
            "--system nats: --workload append writes several keys in one atomic step, and \
             NATS JetStream's key-value store cannot (each key is its own stream subject); \
             the systems that serve append are reference, etcd, zookeeper, galera and http",
        ),
    ] {
        let err = resolve(args).unwrap_err();
        assert_eq!(
            crate::exit::code_for(&err),
            crate::exit::BAD_INPUT,
            "{args:?}"
        );
        let err = err.to_string();
        assert!(err.starts_with(message), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn sizes_with_and_without_units() {
    for (text, bytes) in [
        ("512MiB", 512 << 20),
        ("2GiB", 2 << 30),
        ("1G", 1 << 30),
        ("800M", 800 << 20),
        ("800m", 800 << 20),
        ("64k", 64 << 10),
        ("1.5G", 3 << 29),
        ("1TiB", 1 << 40),
        ("1GB", 1_000_000_000),
        ("500 MB", 500_000_000),
        ("4096", 4096),
        ("4096B", 4096),
    ] {
        assert_eq!(parse_size(text), Ok(bytes), "{text}");
    }
    for (text, why) in [
        ("", "no number"),
        ("GiB", "no number"),
        ("2XB", "unknown unit 'XB'"),
        ("1.5", "not a whole number"),
        ("-1G", "no number"),
        ("0", "needs some memory"),
        ("0.0000000001K", "needs some memory"),
        ("1.2.3G", "not a number"),
        ("99999999999T", "too large"),
    ] {
        let err = parse_size(text).unwrap_err();
        assert!(err.contains(why), "{text}: {err}");
    }
    let err = parse_memory_limit("lots").unwrap_err();
    assert_eq!(crate::exit::code_for(&err), crate::exit::BAD_INPUT);
    assert_eq!(
        err.to_string(),
        "--memory-limit 'lots': no number; give a size such as 512MiB, 2GiB, 1G or a byte count"
    );
}

#[test]
fn port_in_use_is_bad_input() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let err = check_ports_free(port, 1).unwrap_err();
    assert_eq!(crate::exit::code_for(&err), crate::exit::BAD_INPUT);
    assert!(err.to_string().contains(&format!("port {port}")), "{err}");
}

#[test]
fn raft_timing_is_recorded_and_rerun_and_refused_for_other_systems() {
    let spec = resolve(&[]).unwrap();
    let timing = spec.raft.unwrap();
    assert_eq!((timing.heartbeat_ms, timing.election_ms), (100, 1000));
    assert!(!spec.rerun.contains("--raft"), "{}", spec.rerun);
    let spec = resolve(&["--raft-heartbeat", "50ms", "--raft-election", "0.6s"]).unwrap();
    assert!(
        spec.rerun
            .contains("--raft-heartbeat 50ms --raft-election 600ms"),
        "{}",
        spec.rerun
    );
    let again = rerun(&spec).raft.unwrap();
    assert_eq!((again.heartbeat_ms, again.election_ms), (50, 600));
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["raft"]["election_ms"], 600);
    let err = resolve(&["--system", "etcd", "--raft-election", "2s"]).unwrap_err();
    assert!(
        err.to_string().contains("--system etcd has its own"),
        "{err}"
    );
    assert_eq!(resolve(&["--system", "etcd"]).unwrap().raft, None);
}

#[test]
fn galera_isolation_is_recorded_rerun_and_sets_the_txn_model() {
    let spec = resolve(&["--system", "galera"]).unwrap();
    assert_eq!(spec.isolation.as_deref(), Some("repeatable-read"));
    assert!(
        spec.rerun.contains("--isolation repeatable-read"),
        "{}",
        spec.rerun
    );
    let append = resolve(&["--system", "galera", "--workload", "append"]).unwrap();
    assert_eq!(append.consistency_models, vec!["snapshot-isolation"]);
    let spec = resolve(&[
        "--system",
        "galera",
        "--workload",
        "wr",
        "--isolation",
        "serializable",
    ])
    .unwrap();
    assert_eq!(spec.consistency_models, vec!["serializable"]);
    assert_eq!(rerun(&spec).isolation.as_deref(), Some("serializable"));
    let named = resolve(&[
        "--system",
        "galera",
        "--workload",
        "append",
        "--isolation",
        "read-committed",
        "--consistency-models",
        "serializable",
    ])
    .unwrap();
    assert_eq!(
        named.consistency_models,
        vec!["serializable"],
        "named models win"
    );
    assert_eq!(resolve(&["--system", "etcd"]).unwrap().isolation, None);
    for (args, says) in [
        (
            &["--system", "etcd", "--isolation", "serializable"][..],
            "--isolation applies to --system galera",
        ),
        (
            &["--system", "galera", "--isolation", "snapshot"][..],
            "unknown isolation 'snapshot': --isolation takes one of read-committed, \
             repeatable-read, serializable",
        ),
    ] {
        let err = resolve(args).unwrap_err().to_string();
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
