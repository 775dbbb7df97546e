//! The WebDAV methods (RFC 4918 §9), served when `[webdav] enabled = true`.

pub mod copymove;
pub mod lock;
pub mod mkcol;
pub mod propfind;
pub mod proppatch;
