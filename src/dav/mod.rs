//! WebDAV (RFC 4918) beneath the handlers: the XML of request and response bodies, the `If`
//! header, the lock table and property storage. The handlers are in `method/dav/`.

pub mod depth;
pub mod destination;
pub mod ifheader;
pub mod lockinfo;
pub mod locks;
pub mod multistatus;
pub mod propfind;
pub mod proppatch;
pub mod props;
pub mod xml;
