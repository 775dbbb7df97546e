//! One module per method.

pub mod get;
pub mod options;
pub mod trace;
