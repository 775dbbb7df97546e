//! The file system side: path normalisation, listings, ETags, safe writes, whole trees
//! (copy, replace, remove) and the dead properties they carry.

pub mod etag;
pub mod listing;
pub mod owner;
pub mod path;
pub mod tree;
pub mod write;
pub mod xattr;
