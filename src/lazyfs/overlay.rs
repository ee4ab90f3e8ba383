//! The volatile bytes of one file: the extents written since its last fsync, as
//! non-overlapping `(offset, bytes)` runs. A later write replaces what it covers of earlier
//! ones; a truncation cuts every run at the new end. This module only keeps bytes: what
//! lies outside every run is read from the durable file (or is a hole).

use std::collections::BTreeMap;

/// Dirty extents of one file, by offset.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overlay {
    runs: BTreeMap<u64, Vec<u8>>,
}

impl Overlay {
    /// Record `data` written at `offset`.
    pub(crate) fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        // Runs that overlap [offset, end): keep their parts outside it.
        let overlapping: Vec<u64> = self
            .runs
            .range(..end)
            .filter(|(start, bytes)| **start + bytes.len() as u64 > offset)
            .map(|(start, _)| *start)
            .collect();
        for start in overlapping {
            let bytes = self.runs.remove(&start).expect("listed above");
            let run_end = start + bytes.len() as u64;
            if start < offset {
                self.runs
                    .insert(start, bytes[..(offset - start) as usize].to_vec());
            }
            if run_end > end {
                self.runs
                    .insert(end, bytes[(end - start) as usize..].to_vec());
            }
        }
        self.runs.insert(offset, data.to_vec());
    }

    /// Forget every byte at or after `len`.
    pub(crate) fn truncate(&mut self, len: u64) {
        let cut: Vec<u64> = self
            .runs
            .iter()
            .filter(|(start, bytes)| **start + bytes.len() as u64 > len)
            .map(|(start, _)| *start)
            .collect();
        for start in cut {
            let mut bytes = self.runs.remove(&start).expect("listed above");
            if start < len {
                bytes.truncate((len - start) as usize);
                self.runs.insert(start, bytes);
            }
        }
    }

    /// Copy the dirty bytes that fall in `[offset, offset + buf.len())` over `buf`.
    pub(crate) fn read_over(&self, offset: u64, buf: &mut [u8]) {
        let end = offset + buf.len() as u64;
        for (start, bytes) in self.runs.range(..end) {
            let run_end = start + bytes.len() as u64;
            if run_end <= offset {
                continue;
            }
            let from = (*start).max(offset);
            let to = run_end.min(end);
            buf[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&bytes[(from - start) as usize..(to - start) as usize]);
        }
    }

    /// The runs, in offset order.
    pub(crate) fn runs(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.runs.iter().map(|(o, b)| (*o, b.as_slice()))
    }

    /// How many dirty bytes are kept.
    pub(crate) fn bytes(&self) -> u64 {
        self.runs.values().map(|b| b.len() as u64).sum()
    }

    /// Whether nothing is dirty.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Forget everything (after it reached the durable file, or was lost).
    pub(crate) fn clear(&mut self) {
        self.runs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apply the overlay on a base of `len` dots.
    fn view(o: &Overlay, len: usize) -> String {
        let mut buf = vec![b'.'; len];
        o.read_over(0, &mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn later_writes_replace_earlier_ones_and_truncation_cuts_runs() {
        let mut o = Overlay::default();
        o.write(2, b"aaaa");
        o.write(4, b"bbbb");
        o.write(0, b"c");
        assert_eq!(view(&o, 10), "c.aabbbb..");
        o.write(3, b"d");
        assert_eq!(view(&o, 10), "c.adbbbb..");
        assert_eq!(o.bytes(), 7);
        o.truncate(5);
        assert_eq!(view(&o, 10), "c.adb.....");
        let mut part = vec![b'.'; 3];
        o.read_over(2, &mut part);
        assert_eq!(part, b"adb");
        o.write(1, b"xxxxxxxx");
        assert_eq!(view(&o, 10), "cxxxxxxxx.");
        assert_eq!(o.runs().count(), 2);
        o.truncate(0);
        assert!(o.is_empty());
    }
}
