//! Shared helpers for the cross-crate tests.

pub mod alloc_count;
pub mod overlap;
pub mod particles;
pub mod scenario_support;
