//! One module per method.

pub mod delete;
pub mod file;
pub mod get;
pub mod options;
pub mod patch;
pub mod post;
pub mod put;
pub mod target;
pub mod trace;
