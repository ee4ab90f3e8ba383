//! Each client process's open call while a history is read or paired: a table indexed by
//! process for the small ids processes usually have (they count up from 0, and up by the
//! concurrency after each crash), a hash map for the rest.
//!
//! It holds positions only (`u32`); it must never decide what an unpaired op means: its
//! callers report those.

use crate::fxhash::FxHashMap;

/// "No open call" in the table.
const NONE: u32 = u32::MAX;

/// Process → the position of its open call.
pub(crate) struct OpenCalls {
    dense: Vec<u32>,
    /// Processes at or above this id go to `sparse`.
    limit: u64,
    sparse: FxHashMap<u64, u32>,
}

impl OpenCalls {
    /// A table for a history of about `ops` ops: ids below `4 * ops + 64` are indexed,
    /// so the table never outgrows the history by much.
    pub(crate) fn for_ops(ops: usize) -> OpenCalls {
        OpenCalls {
            dense: Vec::new(),
            limit: 4 * ops as u64 + 64,
            sparse: FxHashMap::default(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, process: u64) -> Option<u32> {
        if process < self.limit {
            self.dense
                .get(process as usize)
                .copied()
                .filter(|&c| c != NONE)
        } else {
            self.sparse.get(&process).copied()
        }
    }

    /// Open `call` on `process`. `call` must not be `u32::MAX`.
    #[inline]
    pub(crate) fn set(&mut self, process: u64, call: u32) {
        debug_assert!(call != NONE);
        if process < self.limit {
            let p = process as usize;
            if p >= self.dense.len() {
                self.dense.resize(p + 1, NONE);
            }
            self.dense[p] = call;
        } else {
            self.sparse.insert(process, call);
        }
    }

    /// Close `process`'s open call, returning it.
    #[inline]
    pub(crate) fn take(&mut self, process: u64) -> Option<u32> {
        if process < self.limit {
            let slot = self.dense.get_mut(process as usize)?;
            Some(std::mem::replace(slot, NONE)).filter(|&c| c != NONE)
        } else {
            self.sparse.remove(&process)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_huge_ids_open_and_close() {
        let mut open = OpenCalls::for_ops(2);
        for p in [0, 3, 71, 72, u64::MAX] {
            assert_eq!(open.get(p), None);
            assert_eq!(open.take(p), None);
            open.set(p, 7);
            assert_eq!(open.get(p), Some(7));
            assert_eq!(open.take(p), Some(7));
            assert_eq!(open.get(p), None);
        }
    }
}
