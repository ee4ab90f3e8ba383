//! The index the list-append analysis builds from a history's reads (elements, each key's
//! order, the readers of each state) and the small helpers around it, shared by the
//! analysis (`list_append.rs`, which builds it and finds edges) and the single-txn checks
//! (`append_checks.rs`). Its methods live with the analysis.
//!
//! This module must never analyse anything; it only holds the shared shape.

use serde_json::Value;

use super::decode::{KeyId, TxnId};

pub(super) const NONE: u32 = u32::MAX;
/// A read of the empty list, in `mop_elem`.
pub(super) const EMPTY: u32 = u32::MAX - 1;

/// One appended (or read but never appended) element of one key.
#[derive(Debug, Clone, Copy)]
pub(super) struct Elem<'h> {
    pub(super) key: KeyId,
    pub(super) value: &'h Value,
    /// The txn that appended it, or `NONE` (a garbage element).
    pub(super) writer: TxnId,
    /// Its position in its key's order, or `NONE` when no read saw it.
    pub(super) pos: u32,
    /// Its writer appended to the same key again later.
    pub(super) intermediate: bool,
}

/// What the reads say about each key, indexed for finding edges and explaining them.
#[derive(Debug)]
pub(crate) struct AppendIndex<'h> {
    pub(super) elems: Vec<Elem<'h>>,
    /// Key `k`'s order is `order[order_start[k]..order_start[k + 1]]`.
    pub(super) order_start: Vec<u32>,
    pub(super) order: Vec<u32>,
    /// Per micro-op: an append's element; a committed read's last element (or `EMPTY`).
    pub(super) mop_elem: Vec<u32>,
    /// Per micro-op: how many elements of the order a committed read saw (`NONE` if it is
    /// not a prefix and its last element is not in the order).
    pub(super) mop_state: Vec<u32>,
    /// Readers of state `s` of key `k`: `readers[reader_start[id]..reader_start[id + 1]]`
    /// with `id = order_start[k] + k + s`.
    pub(super) reader_start: Vec<u32>,
    pub(super) readers: Vec<TxnId>,
}

/// The values of a list read (`null` reads as the empty list).
pub(super) fn list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}
