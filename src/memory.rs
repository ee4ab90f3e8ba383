//! This process's resident memory, read from `/proc/self`: the probe that makes
//! `--memory-limit` hold for the whole process during a check, and the figures of
//! `faultline bench soak`. It must never decide anything: it only measures.

use std::sync::Arc;

use faultline_checkers::linearizable::ProcessMemory;

/// Bytes of a `/proc/self/status` field given in kB (`VmRSS:`, `VmHWM:`), 0 when unreadable.
fn status_field(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Resident bytes now.
pub fn resident_bytes() -> u64 {
    status_field("VmRSS:")
}

/// The most resident bytes so far.
pub fn peak_resident_bytes() -> u64 {
    status_field("VmHWM:")
}

/// The probe the checkers ask.
pub fn process_memory() -> ProcessMemory {
    ProcessMemory(Arc::new(resident_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_has_resident_memory_up_to_its_peak() {
        let now = resident_bytes();
        assert!(now > 1 << 20, "{now}");
        assert!(peak_resident_bytes() >= now);
        assert!((process_memory().0)() > 0);
    }
}
