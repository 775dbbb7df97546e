//! Watches the config file with `notify` and swaps in each valid new version.
