//! The file system side: path normalisation, listings, ETags.
