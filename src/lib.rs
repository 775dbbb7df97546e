//! shelf: an HTTP/1.1 file server. One thread per connection, a hand-written parser,
//! a configuration that reloads while it runs.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod fs;
pub mod http;

pub use config::Config;
pub use error::Error;
