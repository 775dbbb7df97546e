//! The file system side: path normalisation, listings, ETags.

pub mod listing;
pub mod path;
