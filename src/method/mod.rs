//! One module per method.

pub mod file;
pub mod get;
pub mod options;
pub mod trace;
