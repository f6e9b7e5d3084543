//! Shared helpers for the cross-service tests live here.

pub mod browser;
