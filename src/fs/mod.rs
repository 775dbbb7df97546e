//! The file system side: path normalisation, listings, ETags.

pub mod etag;
pub mod listing;
pub mod path;
