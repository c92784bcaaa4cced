//! Model files to tensors and tokenizers: the GGUF container ([`gguf`]: metadata, tensor infos,
//! borrowed tensor bytes) and the dequantization of ggml's block formats to f32 ([`dequant`]);
//! safetensors checkpoints ([`safetensors`]) and PyTorch's `pytorch_model.bin` ([`pytorch`]);
//! the tokenizers ([`tokenizer`], WordPiece from `vocab.txt` included); and [`weights`], the one
//! interface the networks read tensors through. Input arrives as bytes, natively and in the
//! browser alike.

pub mod dequant;
pub mod gguf;
pub mod pytorch;
pub mod safetensors;
pub mod tokenizer;
pub mod weights;
