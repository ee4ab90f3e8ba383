//! The command line that reruns a test: built from the arguments as given and the spec as
//! resolved, stored in `test.json` and printed with every run. It carries the target options
//! (enough to reach the same nodes the same way) and never a password.

use faultline_workloads::{ClassicOptions, Keys, TxnOptions};

use super::{fault_options, systems, TestSpec};
use crate::cli::TestArgs;

/// The `faultline test ...` line that reruns `spec` (with its seed).
pub(super) fn rerun_line(args: &TestArgs, spec: &TestSpec) -> String {
    let mut rerun = format!(
        "faultline test --system {} --node-count {} --workload {}{} \
         --nemesis-targets {} --nemesis-interval {} --time-limit {} --concurrency {} --rate {}{} \
         --op-timeout {} --seed {}",
        args.system,
        spec.node_count,
        args.workload,
        match (&args.nemesis_schedule, spec.nemeses.is_empty()) {
            // The schedule file names the nemeses (added below).
            (Some(_), _) => String::new(),
            (None, true) => " --nemesis none".to_string(),
            (None, false) => format!(" --nemesis {}", spec.nemeses.join(",")),
        },
        args.nemesis_targets,
        args.nemesis_interval,
        args.time_limit,
        args.concurrency,
        args.rate,
        if spec.key_count.is_some() {
            txn_args(spec.txn(), &spec.consistency_models)
        } else {
            keys_args(spec.keys())
        },
        args.op_timeout,
        spec.seed,
    );
    rerun.push_str(&classic_args(spec.classic));
    rerun.push_str(&fault_options::rerun_args(args));
    if args.stop_on_anomaly {
        rerun.push_str(" --stop-on-anomaly");
    }
    if let Some(path) = &args.nemesis_schedule {
        // The file itself is in test.json (`nemesis_schedule`), should it move.
        rerun.push_str(&format!(" --nemesis-schedule {}", path.display()));
    }
    if let Some(bug) = &spec.bug {
        rerun.push_str(&format!(" --bug {bug}"));
    }
    if let Some(raft) = &spec.raft {
        rerun.push_str(&raft.rerun_args());
    }
    if let Some(level) = &spec.read_consistency {
        rerun.push_str(&format!(" --read-consistency {level}"));
    }
    if let Some(level) = &spec.isolation {
        rerun.push_str(&format!(" --isolation {level}"));
    }
    if let Some(script) = &spec.db_command {
        rerun.push_str(&format!(
            " --db-command {}",
            shell_word(&script.display().to_string())
        ));
    }
    if !spec.db_packages.is_empty() {
        rerun.push_str(&format!(" --db-packages {}", spec.db_packages.join(",")));
    }
    if let Some(command) = &spec.client_command {
        rerun.push_str(&format!(" --client-command {}", shell_word(command)));
    }
    if !spec.endpoints.is_empty() {
        rerun.push_str(&format!(" --endpoints {}", spec.endpoints.join(",")));
    }
    rerun.push_str(&target_args(args, spec.install_mode));
    rerun
}

/// `word` quoted for a POSIX shell when it needs it.
pub(crate) fn shell_word(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| format!("'{word}'"), |q| q.into_owned())
}

/// The target, store and install options of the rerun command line, with a leading space:
/// enough to reach the same nodes the same way. A password is never in it: a run that
/// logged in with one says to set `FAULTLINE_SSH_PASSWORD` (in a trailing comment).
fn target_args(args: &TestArgs, install_mode: systems::InstallMode) -> String {
    let mut out = String::new();
    let mut push = |flag: &str, value: Option<String>| {
        out.push(' ');
        out.push_str(flag);
        if let Some(value) = value {
            out.push(' ');
            out.push_str(&shell_word(&value));
        }
    };
    let ssh = &args.ssh;
    let defaults = crate::cli::SshFlags::default_values();
    if args.target != "local" {
        push("--target", Some(args.target.clone()));
        if let Some(port) = args.base_port {
            push("--base-port", Some(port.to_string()));
        }
        if ssh.ssh_timeout != defaults.ssh_timeout {
            push("--ssh-timeout", Some(ssh.ssh_timeout.to_string()));
        }
    }
    if args.target == "docker" && ssh.leave_running {
        push("--leave-running", None);
    }
    if args.target == "ssh" {
        if let Some(nodes) = &ssh.nodes {
            push("--nodes", Some(nodes.clone()));
        }
        if let Some(file) = &ssh.nodes_file {
            push("--nodes-file", Some(file.display().to_string()));
        }
        if ssh.username != defaults.username {
            push("--username", Some(ssh.username.clone()));
        }
        if let Some(key) = &ssh.ssh_private_key {
            push("--ssh-private-key", Some(key.display().to_string()));
        }
        if ssh.ssh_port != defaults.ssh_port {
            push("--ssh-port", Some(ssh.ssh_port.to_string()));
        }
        if ssh.sudo {
            push("--sudo", None);
        }
        if let Some(file) = &ssh.known_hosts {
            push("--known-hosts", Some(file.display().to_string()));
        }
        if ssh.accept_new_host_keys {
            push("--accept-new-host-keys", None);
        }
        if ssh.remote_dir != defaults.remote_dir {
            push("--remote-dir", Some(ssh.remote_dir.clone()));
        }
    }
    if install_mode != systems::InstallMode::Auto {
        push("--install-mode", Some(install_mode.to_string()));
    }
    if args.leave_db_running {
        push("--leave-db-running", None);
    }
    if let Some(name) = &args.name {
        push("--name", Some(name.clone()));
    }
    if args.store != std::path::Path::new("store") {
        push("--store", Some(args.store.display().to_string()));
    }
    if args.target == "ssh" && ssh.password.is_some() {
        out.push_str(&format!(
            " # log in with the same password: set {}",
            crate::cli::PASSWORD_ENV
        ));
    }
    out
}

/// The transaction options of the rerun command line, with a leading space.
fn txn_args(txn: TxnOptions, consistency_models: &[String]) -> String {
    format!(
        " --key-count {} --min-txn-length {} --max-txn-length {} --max-writes-per-key {} \
         --consistency-models {}",
        txn.key_count,
        txn.min_txn_length,
        txn.max_txn_length,
        txn.max_writes_per_key,
        consistency_models.join(",")
    )
}

/// The key options of the rerun command line, with a leading space.
fn keys_args(keys: Keys) -> String {
    match keys {
        Keys::Fixed { count } => format!(" --keys {count}"),
        Keys::Independent {
            threads_per_key,
            ops_per_key,
        } => format!(" --threads-per-key {threads_per_key} --ops-per-key {ops_per_key}"),
    }
}

/// The classic workloads' flags that differ from their defaults, with a leading space.
fn classic_args(classic: ClassicOptions) -> String {
    let defaults = ClassicOptions::default();
    let mut out = String::new();
    if classic.accounts != defaults.accounts {
        out.push_str(&format!(" --accounts {}", classic.accounts));
    }
    if classic.total != defaults.total {
        out.push_str(&format!(" --total-amount {}", classic.total));
    }
    if classic.max_transfer != defaults.max_transfer {
        out.push_str(&format!(" --max-transfer {}", classic.max_transfer));
    }
    for (flag, on) in [
        (" --negative-balances", classic.negative_balances),
        (" --linearizable", classic.linearizable),
        (" --decrements", classic.decrements),
    ] {
        if on {
            out.push_str(flag);
        }
    }
    out
}
