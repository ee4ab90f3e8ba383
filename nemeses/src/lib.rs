//! faultline's nemeses: faults and fault schedules, written against a small `Control`
//! interface. This crate knows nothing of workloads, histories or checkers.
