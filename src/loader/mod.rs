//! Model files to tensors: the GGUF container ([`gguf`]: metadata, tensor infos, borrowed
//! tensor bytes) and the dequantization of ggml's block formats to f32 ([`dequant`]). Input
//! arrives as bytes, natively and in the browser alike.

pub mod dequant;
pub mod gguf;
pub mod tokenizer;
pub mod weights;
