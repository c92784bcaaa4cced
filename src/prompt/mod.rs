//! Messages → prompt text: the model's own chat template, rendered as Hugging Face's
//! `apply_chat_template` does, and CPython's `random` for picking rows as the reference does.

pub mod chat_template;
pub mod pyrandom;
