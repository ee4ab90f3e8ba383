//! faultline's built-in reference system: a replicated key-value service on openraft.
//! (Being written; see the helper notes.)

pub mod server;
