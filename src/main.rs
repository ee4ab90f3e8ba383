//! The `faultline` binary: parse the command line, run the command, map the outcome to
//! Jepsen's exit codes.

mod systems;

use clap::{Parser, Subcommand};

/// A Jepsen-style black-box testing harness for consensus-backed services.
#[derive(Debug, Parser)]
#[command(name = "faultline", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one node of the built-in reference service (started by the local target).
    #[command(hide = true)]
    Node(systems::reference::server::NodeArgs),
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Node(args) => {
            let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
            if let Err(e) = runtime.block_on(systems::reference::server::run_node(args)) {
                eprintln!("faultline node: {e:#}");
                std::process::exit(255);
            }
        }
    }
}
