//! The file system side: path normalisation, listings, ETags, safe writes.

pub mod etag;
pub mod listing;
pub mod owner;
pub mod path;
pub mod write;
