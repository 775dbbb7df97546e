//! shelf: an HTTP/1.1 file server. One thread per connection, a hand-written parser,
//! a configuration that reloads while it runs.
#![forbid(unsafe_code)]

pub mod access;
pub mod allow;
pub mod cache;
pub mod compress;
pub mod conditional;
pub mod config;
pub mod conn;
pub mod cors;
pub mod dav;
pub mod dispatch;
pub mod error;
pub mod fs;
pub mod http;
pub mod log;
pub mod method;
pub mod metrics;
pub mod range;
pub mod request;
pub mod routing;
pub mod server;
pub mod state;
pub mod time;
pub mod tls;
pub mod transport;

pub use config::Config;
pub use error::Error;
pub use server::{Handle, Server};
