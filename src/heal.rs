//! `faultline heal [RUN_DIR]`: undo everything a run left behind after the harness itself
//! was killed — paused or orphaned node processes and the faults in the nemesis ledger.
//! Healing is idempotent and reports what it undid.

use anyhow::Result;

use crate::cli::HealArgs;
use crate::store::RunDir;
use crate::target::local;

/// Run `faultline heal`.
pub fn run(args: &HealArgs) -> Result<()> {
    let dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| args.store.join("latest"));
    let run = RunDir::open(&dir)?;
    let test_json: serde_json::Value = std::fs::read_to_string(run.test_json())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut undone = match crate::target::ssh::either::heal_run(&test_json)? {
        Some(undone) => undone,
        None => local::stop_leftover_nodes(&run)?,
    };
    // Killing the node processes undoes process faults; the ledger is then obsolete.
    let ledger = run.nemesis_state();
    if ledger.exists() {
        let state = faultline_nemeses::ledger::Ledger::load(&ledger)
            .map_err(anyhow::Error::msg)?
            .snapshot();
        for (fault, nodes) in [("killed", &state.killed), ("paused", &state.paused)] {
            for node in nodes {
                undone.push(format!("cleared: {node} was {fault}"));
            }
        }
        std::fs::remove_file(&ledger)?;
    }
    if undone.is_empty() {
        println!("{}: nothing to heal", run.path.display());
    } else {
        for line in undone {
            println!("{line}");
        }
        println!("{}: healed", run.path.display());
    }
    Ok(())
}
