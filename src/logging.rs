//! Logging: only the binary installs a `tracing` subscriber. Warnings go to the terminal
//! (or more with `--log`), and everything at `info` and above also goes to the current
//! run's `faultline.log`, switched per run.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The file the current run logs to, if any.
#[derive(Clone, Default)]
pub struct RunLog(Arc<Mutex<Option<File>>>);

impl RunLog {
    /// Send run logs to `path` from now on.
    pub fn open(&self, path: &Path) -> io::Result<()> {
        *self.0.lock().expect("run log") = Some(File::create(path)?);
        Ok(())
    }

    /// Stop writing run logs.
    pub fn close(&self) {
        *self.0.lock().expect("run log") = None;
    }
}

/// Writes to the current run log, or nowhere.
pub struct RunLogWriter(Arc<Mutex<Option<File>>>);

impl Write for RunLogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.lock().expect("run log").as_mut() {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock().expect("run log").as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for RunLog {
    type Writer = RunLogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        RunLogWriter(self.0.clone())
    }
}

/// Install the subscriber: the terminal gets `terminal_filter`, the run log gets `info`.
pub fn init(terminal_filter: &str) -> RunLog {
    let run_log = RunLog::default();
    let terminal = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_target(false)
        .with_filter(
            // lapin (the rabbitmq client) logs every lost connection as an error; the
            // history records them as the ops' outcomes, and the run log keeps them.
            EnvFilter::try_new(format!("{terminal_filter},lapin=off"))
                .unwrap_or_else(|_| EnvFilter::new("warn,lapin=off")),
        );
    let file = tracing_subscriber::fmt::layer()
        .with_writer(run_log.clone())
        .with_ansi(false)
        .with_filter(EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(terminal)
        .with(file)
        .try_init();
    run_log
}
