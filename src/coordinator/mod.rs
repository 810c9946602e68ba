//! Coordinators: state that spans partitions and clients: consumer groups (`group/`) and producer
//! id allocation. (The transaction coordinator will live in `txn/`.)
pub mod group;
pub mod producer_id;
