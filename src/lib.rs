//! clue-wasm: the CLUE clinical benchmark (Dada et al., arXiv 2404.04067), in the browser and
//! natively.
//!
//! One example travels through visible stages: the bytes of an official file are read by
//! [`data`] into typed examples; [`tasks`] picks the few-shot rows and builds the messages of
//! each request for a profile; [`prompt`] renders them with the model's chat template; the
//! [`model`] generates a completion (burn, on CPU or WebGPU); [`tasks`] reads the answer out of
//! it exactly as CLUE does; [`metrics`] scores it and aggregates per task and per level. All
//! stages but the model are pure Rust without I/O, so they behave identically in WebAssembly.

pub mod data;
pub mod eval;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod prompt;
pub mod tasks;

#[cfg(target_arch = "wasm32")]
pub mod web;
