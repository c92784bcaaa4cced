//! The model stage: burn devices (CPU everywhere, wgpu natively, WebGPU in the browser) and
//! asynchronous reads of device data, the one way that works on every backend.

mod device;

pub use device::{Backend, DeviceError, MatmulCheck, matmul_check, open, read_f32};
