//! The handlers: one module per method, plus `file.rs` (one regular file for GET and HEAD)
//! and `precondition.rs` (what a write finds at its target, and its preconditions).
//!
//! Every handler entry point is `#[inline(never)]`: inlined into the dispatcher, the locals of
//! all of them (multipart buffers, write state) would sit in one large frame that each
//! connection thread's stack probe touches on every request, and an idle connection would
//! keep those pages resident (12 KiB a thread, measured).

pub mod dav;
pub mod delete;
pub mod file;
pub mod get;
pub mod options;
pub mod patch;
pub mod post;
pub mod precondition;
pub mod put;
pub mod trace;
