//! The client side of a lazyfs mount's control socket: one command per connection, one JSON
//! line back (the commands are listed in [`super::server`]). Used by the harness for local
//! mounts and by `faultline lazyfs --send` on SSH nodes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

/// Send one control command to the mount serving `socket` and read its JSON answer.
pub fn send(socket: &Path, command: &str) -> Result<Value> {
    let mut stream = UnixStream::connect(socket)
        .with_context(|| format!("cannot connect to {}", socket.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    writeln!(stream, "{command}")?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    serde_json::from_str(&line).with_context(|| format!("lazyfs answered {line:?}"))
}
