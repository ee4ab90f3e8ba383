//! The `faultline` binary: parse the command line, run the command, and map the outcome to
//! Jepsen's exit codes (0 valid, 1 invalid, 2 unknown, 254 bad input, 255 harness failure).
//!
//! Modules import one way: [`cli`] (arguments) ← [`spec`] (resolved and validated) ←
//! [`systems`], [`targets`], [`faults`] ← [`runner`] and the commands. Nothing lower
//! imports anything higher.

mod bench;
mod bench_client;
mod bench_drive;
mod bench_soak;
mod check;
mod cli;
mod escapes;
mod exit;
mod faults;
mod heal;
mod heal_members;
mod lazyfs;
mod logging;
mod maelstrom;
mod membership_nemesis;
mod memory;
mod online;
mod progress;
mod recorder;
mod run_dir;
mod runner;
mod serve;
mod shrink;
mod spec;
mod systems;
mod targets;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use faultline_checkers::checker::Validity;

use crate::cli::{Cli, Command, TestArgs};
use crate::spec::TestSpec;

fn main() -> ExitCode {
    // `faultline node` is the reference service's own process, not a command of the
    // controller: its arguments belong to the server, so the CLI never sees them.
    if std::env::args_os().nth(1).is_some_and(|a| a == "node") {
        return node();
    }
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "maelstrom-echo-node")
    {
        return maelstrom::bench::echo_node();
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "lazyfs") {
        return match lazyfs::server::LazyfsCommand::try_parse_from(std::env::args_os().skip(1)) {
            Ok(command) => lazyfs(&command.args),
            Err(e) => {
                let code = if e.use_stderr() { exit::BAD_INPUT } else { 0 };
                let _ = e.print();
                ExitCode::from(code as u8)
            }
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let run_log = logging::init(&cli.log);
    let outcome = match &cli.command {
        Command::Check(args) => check::run(args),
        Command::Heal(args) => runtime()
            .and_then(|rt| rt.block_on(heal::run(args)))
            .map(|()| 0),
        Command::Report(args) => report(args).map(|()| 0),
        Command::Shrink(args) => shrink::run(args),
        Command::Serve(args) => runtime()
            .and_then(|rt| rt.block_on(serve::run(args)))
            .map(|()| 0),
        Command::Test(args) => runtime().and_then(|rt| rt.block_on(test(args, &run_log))),
        Command::Bench(args) => runtime()
            .and_then(|rt| rt.block_on(bench::run(args)))
            .map(|()| 0),
        Command::Maelstrom(args) => runtime().and_then(|rt| rt.block_on(maelstrom::run(args))),
    };
    match outcome {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("faultline: {e:#}");
            ExitCode::from(exit::code_for(&e) as u8)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `faultline test`: run the test `--test-count` times; the exit code is the worst verdict.
async fn test(args: &TestArgs, run_log: &logging::RunLog) -> Result<i32> {
    let spec = TestSpec::resolve(args)?;
    let (interrupt_tx, interrupt_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("faultline: interrupted; healing and stopping the nodes");
            let _ = interrupt_tx.send(true);
        }
    });
    let mut worst = Validity::Valid;
    let mut junit_results = Vec::new();
    let mut duration = 0.0;
    for index in 0..spec.test_count {
        let outcome = runner::run_test(&spec, index, run_log, interrupt_rx.clone()).await?;
        worst = worst.and(outcome.valid);
        duration += outcome.duration_secs;
        for mut result in outcome.results {
            if spec.test_count > 1 {
                result.checker = format!("run {}: {}", index + 1, result.checker);
            }
            junit_results.push(result);
        }
    }
    if let Some(path) = &args.junit {
        let xml = faultline_reports::junit_xml(&spec.name, &junit_results, duration);
        std::fs::write(path, xml)
            .with_context(|| format!("cannot write the JUnit file {}", path.display()))?;
    }
    Ok(worst.exit_code())
}

/// `faultline report`: re-render a run's report from its files.
fn report(args: &cli::ReportArgs) -> Result<()> {
    let dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| args.store.join("latest"));
    let run = run_dir::RunDir::open(&dir)?;
    let window = match args.messages {
        Some((from, to)) => faultline_reports::MessagesWindow::Between(from, to),
        None => faultline_reports::MessagesWindow::Auto,
    };
    let page = faultline_reports::render_run_with(&run.path, window)?;
    println!("report: {}", page.display());
    Ok(())
}

/// `faultline lazyfs`: serve one lazyfs mount until told to unmount; logs to stderr.
fn lazyfs(args: &lazyfs::server::LazyfsArgs) -> ExitCode {
    // fuser logs every request it leaves to the kernel's default (xattrs, ioctls) as a warning.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,fuser=error"))
        .try_init();
    match lazyfs::server::main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline lazyfs: {e:#}");
            ExitCode::from(exit::HARNESS_FAILURE as u8)
        }
    }
}

/// `faultline node`: one reference node. It exits when the harness that started it is
/// gone, so a killed harness leaves no orphaned node running.
fn node() -> ExitCode {
    use clap::Parser;
    let args = match systems::reference::server::NodeCommand::try_parse_from(
        std::env::args_os().skip(1),
    ) {
        Ok(command) => command.args,
        Err(e) => {
            let code = if e.use_stderr() { exit::BAD_INPUT } else { 0 };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    if let Some(parent) = std::env::var(targets::local::PARENT_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        std::thread::spawn(move || loop {
            if nix::unistd::getppid().as_raw() != parent {
                std::process::exit(0);
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        });
    }
    let result = runtime().and_then(|rt| rt.block_on(systems::reference::server::run_node(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline node: {e:#}");
            ExitCode::from(exit::HARNESS_FAILURE as u8)
        }
    }
}
