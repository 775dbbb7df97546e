//! WebDAV (RFC 4918) beneath the handlers: the XML of request and response bodies, the `If`
//! header, the lock table and property storage. The handlers are in `method/dav/`.

pub mod locks;
pub mod propfind;
pub mod proppatch;
pub mod props;
pub mod xml;
