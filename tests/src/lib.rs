//! Shared helpers for the cross-crate tests.

pub mod particles;
pub mod scenario_support;
