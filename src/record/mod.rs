//! The v2 record batch, seen as bytes.
//!
//! Owns: the zero-copy header view over a batch ([`BatchHeader`]), walking a buffer of concatenated
//! batches ([`BatchIter`]) and CRC-32C validation. Must not: decode individual records on the fetch
//! path; on produce only `validate` reads them (streaming, never re-encoding). Pure functions, no I/O, no locks.
pub mod batch;
pub mod records;
pub mod timestamps;
pub mod validate;

pub use batch::{BatchError, BatchHeader, BatchIter, HEADER_LEN};
