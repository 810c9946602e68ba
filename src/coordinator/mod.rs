//! Coordinators: state that spans partitions and clients. Today: producer id allocation.
//! (The group and transaction coordinators will live in `group/` and `txn/`.)
pub mod producer_id;
