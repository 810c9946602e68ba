//! Coordinators: state that spans partitions and clients: consumer groups (`group/`) and producer
//! id allocation, and transactions (`txn/`).
pub mod group;
pub mod producer_id;
pub mod txn;
