//! The reference service's Raft timing (`--raft-heartbeat`, `--raft-election`), chosen as
//! etcd's: a 100 ms heartbeat and a 1000 ms election timeout, after which a follower that
//! heard nothing from its leader stands for election somewhere in [election, 2 × election).
//!
//! openraft (0.9) waits longer than its own election timeout: a follower that knew a leader
//! first waits out the leader's lease, which is openraft's *maximum* election timeout, and
//! then its randomized timeout. So the nodes get openraft timeouts of [election / 2,
//! election), and a follower stands 1.5–2 × election after the last heartbeat: inside etcd's
//! window, never sooner.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::exit::bad_input;

/// etcd's default heartbeat interval, milliseconds.
pub const DEFAULT_HEARTBEAT_MS: u64 = 100;
/// etcd's default election timeout, milliseconds.
pub const DEFAULT_ELECTION_MS: u64 = 1000;
/// The longest election timeout etcd accepts, milliseconds.
const MAX_ELECTION_MS: u64 = 50_000;

/// The Raft timing of the reference nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftTiming {
    /// How often the leader sends a heartbeat, milliseconds.
    pub heartbeat_ms: u64,
    /// The election timeout, milliseconds: a follower stands for election between 1.5 and 2
    /// times this after it last heard from its leader.
    pub election_ms: u64,
}

impl Default for RaftTiming {
    fn default() -> Self {
        RaftTiming {
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            election_ms: DEFAULT_ELECTION_MS,
        }
    }
}

impl RaftTiming {
    /// openraft's lower bound of its randomized election timeout, milliseconds.
    pub fn election_min_ms(&self) -> u64 {
        self.election_ms / 2
    }

    /// openraft's upper bound of its randomized election timeout (and the leader's lease),
    /// milliseconds.
    pub fn election_max_ms(&self) -> u64 {
        self.election_ms
    }

    /// The timing given by `--raft-heartbeat` and `--raft-election` (each `None` for its
    /// default), for `system`; `None` for a system these flags do not apply to.
    pub fn resolve(
        system: &str,
        heartbeat: Option<&str>,
        election: Option<&str>,
    ) -> Result<Option<RaftTiming>> {
        if system != "reference" {
            if heartbeat.is_some() || election.is_some() {
                bad_input!(
                    "--raft-heartbeat and --raft-election set the reference service's Raft \
                     timing; --system {system} has its own: drop them"
                );
            }
            return Ok(None);
        }
        let heartbeat_ms = match heartbeat {
            None => DEFAULT_HEARTBEAT_MS,
            Some(text) => millis("--raft-heartbeat", text)?,
        };
        let election_ms = match election {
            None => DEFAULT_ELECTION_MS,
            Some(text) => millis("--raft-election", text)?,
        };
        // etcd's own rule: a follower should miss several heartbeats before it stands.
        if election_ms < 5 * heartbeat_ms {
            bad_input!(
                "--raft-election {election_ms}ms must be at least 5 × --raft-heartbeat \
                 ({heartbeat_ms}ms), as etcd requires: raise the election timeout or lower the \
                 heartbeat"
            );
        }
        if election_ms > MAX_ELECTION_MS {
            bad_input!(
                "--raft-election {election_ms}ms is longer than etcd allows \
                 ({MAX_ELECTION_MS}ms): give a shorter election timeout"
            );
        }
        Ok(Some(RaftTiming {
            heartbeat_ms,
            election_ms,
        }))
    }

    /// The rerun command line's flags for this timing (with a leading space), empty when it
    /// is the default.
    pub fn rerun_args(&self) -> String {
        let mut out = String::new();
        if self.heartbeat_ms != DEFAULT_HEARTBEAT_MS {
            out.push_str(&format!(" --raft-heartbeat {}ms", self.heartbeat_ms));
        }
        if self.election_ms != DEFAULT_ELECTION_MS {
            out.push_str(&format!(" --raft-election {}ms", self.election_ms));
        }
        out
    }
}

/// A positive duration in milliseconds from `N`, `Nms` or `Ns`.
fn millis(flag: &str, text: &str) -> Result<u64> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (t, 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (n * scale).round() >= 1.0 && n * scale <= 1e9 => {
            Ok((n * scale).round() as u64)
        }
        _ => bad_input!(
            "{flag} '{text}' is not a positive duration: give milliseconds such as 100ms, or \
             seconds such as 1.5s"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(h: Option<&str>, e: Option<&str>) -> Result<Option<RaftTiming>> {
        RaftTiming::resolve("reference", h, e)
    }

    #[test]
    fn defaults_are_etcds_and_units_parse() {
        let t = resolve(None, None).unwrap().unwrap();
        assert_eq!((t.heartbeat_ms, t.election_ms), (100, 1000));
        assert_eq!((t.election_min_ms(), t.election_max_ms()), (500, 1000));
        assert_eq!(t.rerun_args(), "");
        let t = resolve(Some("50"), Some("1.5s")).unwrap().unwrap();
        assert_eq!((t.heartbeat_ms, t.election_ms), (50, 1500));
        assert_eq!(
            t.rerun_args(),
            " --raft-heartbeat 50ms --raft-election 1500ms"
        );
        let t = resolve(Some("200ms"), Some("2s")).unwrap().unwrap();
        assert_eq!((t.heartbeat_ms, t.election_ms), (200, 2000));
    }

    #[test]
    fn bad_timing_is_refused_in_one_line_naming_the_fix() {
        let err = |h, e| resolve(h, e).unwrap_err().to_string();
        assert!(err(Some("0"), None).contains("not a positive duration"));
        assert!(err(Some("fast"), None).contains("100ms"));
        assert!(err(None, Some("-1s")).contains("--raft-election '-1s'"));
        assert!(err(Some("300ms"), None).contains("at least 5 × --raft-heartbeat (300ms)"));
        assert!(err(None, Some("60s")).contains("longer than etcd allows"));
        let other = RaftTiming::resolve("etcd", Some("100"), None).unwrap_err();
        assert!(other.to_string().contains("--system etcd has its own"));
        assert_eq!(RaftTiming::resolve("etcd", None, None).unwrap(), None);
        for e in [err(Some("0"), None), err(Some("300ms"), None)] {
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
