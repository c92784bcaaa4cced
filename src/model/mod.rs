//! The model stage: burn devices (CPU everywhere, wgpu natively, WebGPU in the browser) and
//! asynchronous reads of device data, the one way that works on every backend; the Llama/Qwen2
//! decoder with its KV cache, generation and log-likelihood scoring; natively on the CPU, decode
//! steps multiplying a GGUF file's quantized blocks directly (`quantized`).

mod bert;
mod cache;
mod device;
mod generate;
mod gguf;
mod llama;
mod loaded;
mod pytorch;
mod quantized;
mod safetensors;
mod speed;
mod wordpiece;

pub use self::safetensors::{INDEX_FILE, SafetensorsError, SafetensorsWeights};
pub use bert::{Bert, BertConfig};
pub use cache::KvCache;
pub use device::{Backend, DeviceError, MatmulCheck, matmul_check, open, read_f32};
pub use generate::{
    Completion, Control, GenerateSettings, LogLikelihood, StopReason, StopRule, generate,
    loglikelihood, prompt_logprobs,
};
pub use gguf::{GgufWeights, config_from_gguf};
pub use llama::{
    Architecture, DEFAULT_PREFILL_CHUNK, Llama, LlamaConfig, LogitsAt, ModelError, RopeLayout,
    WeightSource,
};
pub(crate) use loaded::hex;
pub use loaded::{EncodedPrompt, LoadError, LoadedModel};
pub use pytorch::{PYTORCH_FILE, PytorchWeights};
pub use quantized::QuantizedRows;
pub use speed::{
    MAX_SPEED_RUNS, SPEED_NEW_TOKENS, SPEED_PARAGRAPH, SPEED_PROMPT_TOKENS, SpeedReport,
    measure_speed,
};
pub use wordpiece::{WordPieceSettings, wordpiece_tokenizer};
