//! Directory listings (SPEC §3): reading, sorting, and rendering as JSON or HTML.
