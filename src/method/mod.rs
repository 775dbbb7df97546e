//! One module per method.

pub mod file;
pub mod get;
pub mod options;
pub mod put;
pub mod target;
pub mod trace;
