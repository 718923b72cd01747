//! Limits written once: the defaults the configuration offers and the code falls back to, and
//! the bounds a request's values are held to.

/// Longest url accepted; longer ones are refused before anything is fetched.
pub const MAX_URL_LEN: usize = 8192;

/// Widest and tallest source picture decoded by default (`PYTHUMBIO_MAX_SOURCE_WIDTH`, `_HEIGHT`).
pub const MAX_SOURCE_SIDE: u32 = 8192;

/// Most pixels in a source picture decoded by default (`PYTHUMBIO_MAX_SOURCE_PIXELS`).
pub const MAX_SOURCE_PIXELS: u64 = 40_000_000;
