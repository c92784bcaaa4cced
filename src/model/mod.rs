//! The model stage: burn devices (CPU everywhere, wgpu natively, WebGPU in the browser) and
//! asynchronous reads of device data, the one way that works on every backend; the decoder of the
//! Llama family (Llama, Qwen2/3, Gemma 2/3, Phi-3: `config`, `rope`, `decoder`) with its KV cache,
//! generation and log-likelihood scoring; a GGUF file's matrices kept as its blocks — on a GPU
//! read by kernels of our own (`blocks`, `kernels`), natively on the CPU multiplied row by row
//! in decode steps (`quantized`); and BERT for BERTScore.

mod bert;
mod blocks;
mod cache;
mod config;
mod decoder;
mod device;
mod generate;
mod gguf;
mod kernels;
mod known;
mod loaded;
mod needs;
mod quantized;
mod rope;
mod speed;

pub use bert::{Bert, BertConfig};
pub use cache::KvCache;
pub use config::{Architecture, DecoderConfig, LayerType, RopeLayout, RopeScaling};
pub use decoder::{DEFAULT_PREFILL_CHUNK, Decoder, DeviceBytes, LogitsAt, ModelError};
pub use device::{Backend, DeviceError, MatmulCheck, matmul_check, open, read_f32};
pub use generate::{
    Completion, Control, GenerateSettings, LogLikelihood, StopReason, StopRule, generate,
    loglikelihood, prompt_logprobs,
};
pub use gguf::{config_from_gguf, decoder_from_gguf};
pub use known::{KnownModel, known_model, known_models};
pub(crate) use loaded::hex;
pub use loaded::{EncodedPrompt, LoadError, LoadedModel};
pub use needs::ModelNeeds;
pub use quantized::QuantizedRows;
pub use speed::{
    MAX_SPEED_RUNS, SPEED_NEW_TOKENS, SPEED_PARAGRAPH, SPEED_PROMPT_TOKENS, SpeedReport,
    measure_speed,
};
