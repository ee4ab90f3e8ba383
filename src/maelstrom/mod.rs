//! `faultline maelstrom test`: Maelstrom's workbench. Node programs in any language that
//! speak Maelstrom's protocol run unchanged, with Maelstrom's command lines; faultline plays
//! Maelstrom's part (the network, the clients, the services, the nemesis and the checker)
//! and writes the run folder and report of `faultline test`.
//!
//! - [`protocol`]: messages, bodies and error codes.
//! - [`services`]: `lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`.
//! - [`net`]: the node processes and the router between them.
//! - [`workloads`]: each workload's ops, messages and checkers; topologies.
//! - [`run`]: one test, end to end.
//! - [`bench`]: `faultline bench maelstrom` and its trivial echo node.

pub(crate) mod bench;
pub(crate) mod kafka;
pub(crate) mod net;
pub(crate) mod protocol;
pub(crate) mod run;
pub(crate) mod services;
pub(crate) mod workloads;

use anyhow::Result;
use faultline_checkers::checker::Validity;

use crate::cli::{MaelstromArgs, MaelstromCommand};

/// Run `faultline maelstrom`; the exit code of the worst verdict.
pub(crate) async fn run(args: &MaelstromArgs) -> Result<i32> {
    let MaelstromCommand::Test(test) = &args.command;
    let spec = run::MaelstromSpec::resolve(test)?;
    let mut worst = Validity::Valid;
    for _ in 0..test.test_count {
        worst = worst.and(run::run_test(&spec).await?);
    }
    Ok(worst.exit_code())
}
