//! Choosing and opening a burn device: the pure-Rust CPU backend (`flex`) everywhere, wgpu
//! natively (Vulkan; Mesa's CPU driver on GPU-less machines) and WebGPU in the browser.
//! Device data is only ever read asynchronously, because WebGPU cannot block.

use std::fmt;
use std::sync::OnceLock;

use burn::tensor::{Device, Tensor, TensorData};

/// The two kinds of device the evaluator can run on, named alike on the command line, in the
/// page and in records: `cpu` and `webgpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    /// burn's pure-Rust CPU backend (`flex`); always available.
    #[serde(rename = "cpu")]
    Cpu,
    /// burn's wgpu backend: Vulkan/Metal/DX12 natively, WebGPU in the browser. Records made
    /// before the name was unified say `wgpu`; they still read.
    #[serde(rename = "webgpu", alias = "wgpu")]
    WebGpu,
}

impl Backend {
    /// Both backends, CPU first.
    pub const ALL: [Backend; 2] = [Backend::Cpu, Backend::WebGpu];

    /// The name used on the command line, in the page and in records (`cpu`, `webgpu`).
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::WebGpu => "webgpu",
        }
    }

    /// Parses `cpu` or `webgpu` (or `wgpu`, the old name of the same backend).
    pub fn parse(name: &str) -> Option<Backend> {
        match name {
            "cpu" => Some(Backend::Cpu),
            "webgpu" | "wgpu" => Some(Backend::WebGpu),
            _ => None,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device could not be opened or a computation on it failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No wgpu adapter could be acquired (no GPU, no WebGPU in this browser, a driver error).
    #[error("the webgpu backend (wgpu) is not available here: {0}")]
    Unavailable(String),
    /// Reading a result back from the device failed.
    #[error("reading a result from the {backend} device failed: {message}")]
    Readback {
        /// The backend that failed.
        backend: Backend,
        /// What the runtime reported.
        message: String,
    },
}

/// The wgpu device once acquired: burn's runtime can be initialized only once per process (or
/// worker), so every later caller gets a clone of the first device.
static WGPU_DEVICE: OnceLock<Device> = OnceLock::new();

/// Opens a device of the given backend. The wgpu device is acquired asynchronously, as the
/// browser requires, on the first call; later calls share it.
pub async fn open(backend: Backend) -> Result<Device, DeviceError> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        Backend::WebGpu => {
            if let Some(device) = WGPU_DEVICE.get() {
                return Ok(device.clone());
            }
            match Device::wgpu_options().init_async().await {
                Ok(device) => Ok(WGPU_DEVICE.get_or_init(|| device).clone()),
                // Another thread may have initialized the runtime in the meantime.
                Err(error) => WGPU_DEVICE
                    .get()
                    .cloned()
                    .ok_or_else(|| DeviceError::Unavailable(error.to_string())),
            }
        }
    }
}

/// Reads a float tensor back to the host without ever blocking the device.
pub async fn read_f32<const D: usize>(
    backend: Backend,
    tensor: Tensor<D>,
) -> Result<Vec<f32>, DeviceError> {
    let readback = |message: String| DeviceError::Readback { backend, message };
    let data: TensorData = tensor
        .into_data_async()
        .await
        .map_err(|e| readback(format!("{e:?}")))?;
    data.try_into_vec::<f32>()
        .map_err(|e| readback(format!("{e:?}")))
}

/// The outcome of [`matmul_check`]: a square product computed on a device and compared with the
/// same product computed on the host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MatmulCheck {
    /// The backend the product ran on.
    pub backend: Backend,
    /// The matrices' side length.
    pub size: usize,
    /// Weighted sum of the device's result, `Σ C[i][j]·(1 + (31i + 17j) mod 13)`: the page
    /// recomputes it independently, and the weights make a misplaced entry show.
    pub checksum: f64,
    /// Largest absolute difference between the device's result and the host's.
    pub max_abs_diff: f64,
}

impl MatmulCheck {
    /// Whether the device computed the product exactly: the inputs are small integers, so
    /// every partial sum is exact in f32 whatever order the kernel adds in.
    pub fn is_exact(&self) -> bool {
        self.max_abs_diff == 0.0
    }
}

/// Entry `(i, j)` of the left input: small integers so the product is exact in f32.
fn left(i: usize, j: usize) -> f32 {
    ((i * 7 + j * 3) % 5) as f32 - 2.0
}

/// Entry `(i, j)` of the right input.
fn right(i: usize, j: usize) -> f32 {
    ((i * 5 + j * 11) % 7) as f32 - 3.0
}

/// Weight of entry `(i, j)` in [`MatmulCheck::checksum`].
fn checksum_weight(i: usize, j: usize) -> f64 {
    (1 + (31 * i + 17 * j) % 13) as f64
}

/// Multiplies two fixed `size`×`size` matrices on `device`, reads the result asynchronously and
/// compares it with the host's product: a quick proof that a backend computes correctly.
pub async fn matmul_check(
    backend: Backend,
    device: &Device,
    size: usize,
) -> Result<MatmulCheck, DeviceError> {
    let lhs: Vec<f32> = (0..size * size).map(|k| left(k / size, k % size)).collect();
    let rhs: Vec<f32> = (0..size * size)
        .map(|k| right(k / size, k % size))
        .collect();
    let a = Tensor::<2>::from_data(TensorData::new(lhs.clone(), [size, size]), device);
    let b = Tensor::<2>::from_data(TensorData::new(rhs.clone(), [size, size]), device);
    let product = read_f32(backend, a.matmul(b)).await?;

    let mut max_abs_diff = 0.0f64;
    for i in 0..size {
        for j in 0..size {
            let expected: f64 = (0..size)
                .map(|k| f64::from(lhs[i * size + k]) * f64::from(rhs[k * size + j]))
                .sum();
            max_abs_diff = max_abs_diff.max((f64::from(product[i * size + j]) - expected).abs());
        }
    }
    Ok(MatmulCheck {
        backend,
        size,
        checksum: product
            .iter()
            .enumerate()
            .map(|(k, &x)| f64::from(x) * checksum_weight(k / size, k % size))
            .sum(),
        max_abs_diff,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn cpu_matmul_is_exact() {
        let check = pollster::block_on(async {
            let device = open(Backend::Cpu)
                .await
                .expect("the CPU backend always opens");
            matmul_check(Backend::Cpu, &device, 64).await
        })
        .expect("the CPU backend computes");
        assert!(check.is_exact(), "max abs diff {}", check.max_abs_diff);
        assert_eq!(check.size, 64);
    }

    /// Natively the wgpu backend runs on whatever Vulkan driver the machine has (Mesa's CPU
    /// driver, lavapipe, on GPU-less machines; the test command installs it).
    #[test]
    fn wgpu_matmul_is_exact() {
        let check = pollster::block_on(async {
            let device = open(Backend::WebGpu)
                .await
                .expect("a Vulkan driver is installed");
            matmul_check(Backend::WebGpu, &device, 256).await
        })
        .expect("the wgpu backend computes");
        assert!(check.is_exact(), "max abs diff {}", check.max_abs_diff);
    }

    #[test]
    fn backend_names_round_trip() {
        for backend in Backend::ALL {
            assert_eq!(Backend::parse(backend.as_str()), Some(backend));
        }
        assert_eq!(
            Backend::parse("wgpu"),
            Some(Backend::WebGpu),
            "the old name"
        );
        assert_eq!(Backend::parse("cuda"), None);
        // Records say `webgpu`; those written under the old name still read.
        assert_eq!(
            serde_json::to_string(&Backend::WebGpu).unwrap(),
            "\"webgpu\""
        );
        let old: Backend = serde_json::from_str("\"wgpu\"").unwrap();
        assert_eq!(old, Backend::WebGpu);
    }
}
