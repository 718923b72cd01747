//! pythumbio: video thumbnails, streaming WebM transcodes, previews and metadata over HTTP, each
//! request a GStreamer pipeline described by a pipeline file.
//!
//! Layers, top to bottom (an arrow never runs back up): `http` (routes, errors, admission) over
//! `catalog` (pipeline files and their parameters) over `engine` (GStreamer: launch, appsink
//! stream, stills, the Discoverer, drop guard) over `source` (the source policy and the HTTP
//! source element every pipeline reads origins through) and `elements` (the service's own video
//! elements); `plugin` registers the elements of both as one GStreamer plugin.

pub mod catalog;
pub mod config;
pub mod elements;
pub mod engine;
pub mod histogram;
pub mod http;
pub mod limits;
pub mod plugin;
pub mod signature;
pub mod source;
