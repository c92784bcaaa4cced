"""Golden log-probs of small random-weight models of six llama.cpp architectures (llama with Llama
3 RoPE frequency factors, qwen2, qwen3, gemma2, gemma3, phi3), quantized and evaluated by llama.cpp
(llama-cpp-python 0.3.36), for the architecture tests of the Rust runtime. Same pinned environment
as the other llama.cpp goldens:

    python3.11 -m venv venv
    CMAKE_ARGS="-DGGML_NATIVE=OFF" venv/bin/pip install -r tests/golden/archs/requirements.txt
    venv/bin/python tests/golden/archs/make.py

For every architecture in ARCHS this script

  1. writes a random-weight model with gguf-py's GGUFWriter (weights drawn from numpy's PCG64
     with a fixed seed per architecture, matrices F16, norms, biases and RoPE factor vectors F32)
     in the layout llama.cpp's converter gives the real models (tensor names, fused tensors, norm
     weights of Gemma stored with the +1 already added, Llama 3 `rope_freqs.weight` computed as
     convert_hf_to_gguf.py computes it). The tokenizer is copied from
     tests/golden/tokenizer/tiny/default.gguf (660-token byte-level BPE), so the vocabulary is 660.
     Also written at F32. These F16/F32 files are too big to commit and go to WORK (/tmp);
  2. quantizes the F16 file with llama.cpp itself (llama_model_quantize with its default
     parameters and the ftypes of the architecture's `types`: Q4_K_M and Q5_K_M for all, Q8_0 and
     Q4_0 for two of them, to stay within the size budget) into <arch>-<type>.gguf next to this
     script (each under 1 MiB);
  3. evaluates every file, quantized or not, with llama.cpp on the CPU (settings LLAMA below) on
     the three token-id prompts of PROMPTS, and the same prompts with the float64 numpy decoder
     `Reference` (written from llama.cpp's graph code, on the weights gguf-py dequantizes);
  4. measures, on the F16 weights, how far the float64 log-probs move when one feature of the
     architecture is left out (`Reference(..., drop=...)`): a runtime that forgets it is off by
     that much, so it must be well above the tests' tolerance.

Writes goldens.json next to this script, one object:

  llama_cpp      the Python package, ggml's version and commit, its CPU features
  settings       keyword arguments of llama_cpp.Llama, greedy_tokens, decimals, decisive_margin
  f64_reference  how the float64 numbers were made
  prompts        {name: ids} (ids < 660; each prompt is evaluated from position 0 without BOS)
  archs          {arch: {config: the hyper-parameters written, tensors: the F16 file's tensor
                 names and shapes (numpy order: rows, columns), feature_drops: {feature: mean over
                 all prompt positions of |log p_f64 - log p_f64 without the feature|, nats},
                 reference_check: {F16|F32: {sha256, mean_abs_diff, max_abs_diff, the agreement
                 fields below, per_prompt, logit_std}}: llama.cpp against the float64 decoder on
                 the unquantized files (not committed), and the standard deviation of the float64
                 logits on "long"}}
  files          {"<arch>-<type>.gguf": {arch, type, sha256, bytes, tensor_types: {tensor name:
                 the ggml type llama.cpp chose}, mean_abs_diff and max_abs_diff (llama.cpp vs
                 float64, nats per predicted token, all prompts), the agreement fields,
                 prompts: [one object per prompt]}}

and per prompt: name, ids, for every position i >= 1 `prompt_logprobs` = log p(ids[i] | ids[:i])
(log-softmax in float64 of llama.cpp's float32 logits at i - 1), for every position i the `top1`
next id and `top1_margin` (its logit minus the second largest), the `greedy_ids` of an 8-token
greedy continuation (argmax, lowest id among equals, evaluated token by token) with each step's
`greedy_margin`, and the float64 decoder's `f64_logprobs`, `f64_top1`, `f64_top1_margin`,
`f64_greedy_ids`, `f64_greedy_margin` for the same file's dequantized weights.

The agreement fields (function `agreement`): max_prompt_mean_abs_diff, the largest over the
prompts of the mean |llama.cpp - float64| log-prob per predicted token; decisive_top1_disagreements,
the number of positions where llama.cpp's top-1 leads its second by more than decisive_margin
(0.1) and the float64 top-1 is another id, and decisive_positions, those positions as [prompt,
position, llama.cpp margin, float64 margin]. A runtime that computes like the float64 decoder
can be held to these: on every committed file the first is at most 0.035 and the second 0.

llama.cpp rounds activations to 8 bits (Q8_0/Q8_K) before multiplying them by quantized weights,
to F16 before multiplying by F16 weights, and keeps K and V in an F16 cache; so its log-probs
differ from the float64 ones, by 0.013-0.035 nats per token on average over a prompt on the
quantized files (up to about 0.2 on single tokens) and by about 0.001 on the F16/F32 ones
(reference_check). The weights are drawn so that this stays small (see NOISE at ARCHS). Greedy
tokens of the two may differ where the step margins are small.

Takes under a minute on two cores; a rerun gives byte-identical .gguf files and goldens.json.
"""

import ctypes
import hashlib
import json
import math
import pathlib
import tempfile

import numpy as np
from gguf import GGUFReader, GGUFWriter, LlamaFileType
from gguf.quants import dequantize

HERE = pathlib.Path(__file__).resolve().parent
TOKENIZER = HERE.parent / "tokenizer" / "tiny" / "default.gguf"
WORK = pathlib.Path(tempfile.gettempdir()) / "clue-golden-archs"

# Keyword arguments of llama_cpp.Llama, recorded in the golden: every logit row kept, one CPU
# device, each prompt evaluated as one batch, no flash attention. n_ctx 256 is also the context
# size that selects Phi-3's short RoPE factors (256 <= rope.scaling.original_context_length).
LLAMA = {
    "n_ctx": 256,
    "n_batch": 256,
    "n_ubatch": 256,
    "n_threads": 2,
    "n_threads_batch": 2,
    "seed": 1234,
    "logits_all": True,
    "flash_attn": False,
    "n_gpu_layers": 0,
}
GREEDY_TOKENS = 8
DECIMALS = 6
# A position is "decisive" where llama.cpp's top-1 logit leads the second by more than this.
DECISIVE_MARGIN = 0.1

SEGMENT = [212, 324, 30, 240, 566, 258, 273, 495, 467, 193, 372, 401]
PROMPTS = {
    "short": [247, 332, 372, 545, 596, 651, 405, 131, 617, 157, 196, 83, 143, 42, 195, 477, 392,
              222, 352, 200, 582, 278, 264, 404],
    "repeat": SEGMENT * 3 + [519, 62, 464, 402],
    "long": [610, 503, 129, 114, 509, 394, 184, 437, 185, 651, 542, 295, 59, 501, 458, 20, 582, 250,
             452, 598, 542, 466, 140, 489, 279, 599, 232, 257, 98, 200, 209, 218, 56, 586, 343, 215,
             452, 121, 383, 328, 584, 87, 155, 462, 481, 503, 537, 385, 515, 275, 553, 565, 153,
             200, 374, 459, 52, 482, 235, 237],
}

ALL_TYPES = ["Q4_K_M", "Q5_K_M", "Q8_0", "Q4_0"]
K_TYPES = ["Q4_K_M", "Q5_K_M"]

# Hyper-parameters of each model. Shapes: hidden 256 so that every matrix row (ne0) is a multiple
# of 256 for the K-quants, except qwen3's attn_output (row length 6 * 64 = 384), which makes
# llama.cpp fall back to Q5_0 (Q4_K_M) and Q5_1 (Q5_K_M) for it, as it does for the {896, ...}
# matrices of Qwen2.5-0.5B. `scale` sets the standard deviations of the random weights (see
# make_weights; a list gives one value per layer); `position_kernel`, `signed_output_norm` and
# the scales are chosen, with the 8-bit activations of llama.cpp in mind (NOISE below), so that
# the logits have a standard deviation of about 2, each architecture's own features move the
# log-probs by over 0.3 nat (FEATURES; gelu_erf is the exception: it is listed to show that the
# GELU form is not observable), and llama.cpp's log-probs on every quantized file stay within
# 0.035 nat per token of the float64 decoder's on every prompt, with the same top-1 wherever
# llama.cpp's leads by more than 0.1 (the agreement fields of goldens.json).
#
# NOISE. llama.cpp rounds the input of every quantized matmul to 8 bits (a step of max|x| / 127
# per block of 256 or 32 values), about 0.7 % of the input's rms for Gaussian activations; what
# reaches the logits grows with how much of the final hidden state the blocks compute (the
# token embedding rows are copied exactly) and how sharply attention depends on content (noise
# in q and k moves the softmax weights). With the first tuning (logits of std 3, blocks as large
# as the embeddings, random q and k of std 0.09) llama.cpp was 0.05-0.13 nat per token away from
# float64. So here: the embeddings dominate the residual stream and the blocks add a fraction of
# it; FFNs are small (none of the features is in them but phi3's gate/up order; leaving them out
# still moves the log-probs by 0.39-0.65 nat); content q and k are small, and positions are
# made visible by a deterministic `position_kernel` instead:
#
#   position_kernel {pairs, common, amp}: a unit direction c (random) added `common` times to
#   every embedding row, so every normed hidden state has a large, nearly constant component
#   along c; for each RoPE pair p listed, q's first row of the pair is amp * c and its second row
#   0, k's first row 0 and second row amp * c (in every head; amp may be a list per layer), so
#   that the pair adds about A sin((t - u) * theta_p) to the score of query t and key u, A =
#   mscale^2 amp^2 (c . h)^2 / sqrt(head_dim) > 0: a bias towards distant keys (the pair takes
#   no content), free of rounding noise except through c . h. It shows what the position
#   features change: the pairing of dimensions (NORM vs NEOX), the pair frequencies (base,
#   rope_freqs, LongRoPE factors), mscale (attn_factor) and which keys are visible (windows):
#   with keys preferred the farther they are, a window one token wider changes the key most
#   attended to. (NORM RoPE pairs rows 2p, 2p + 1 of a head, NEOX p, p + head_dim / 2.)
#
#   signed_output_norm: output_norm.weight with random signs. With tied embeddings the logit of
#   token j is e_j . (w * h); with w ~ 1 and h dominated by the current token's own row e_i, the
#   current token would get by far the largest logit; random signs make e_j . (w * e_i) a random
#   bilinear form (a bigram table), with no such diagonal.
ARCHS = {
    # Llama 3.x: rope base 500000, rope_freqs.weight from rope_scaling llama3 (factor 32, low 1,
    # high 4, original context 8192), tied embeddings as Llama 3.2 1B/3B. The factors only change
    # pairs that turn by less than 0.2 rad over these 68 positions, so random q and k hardly feel
    # them; the position kernel on pairs 15-21 (factors 1.6 to 32) is a ramp over distance that
    # rope_freqs flattens (dividing the pairs' angles by the factors) and that a runtime ignoring
    # them would see at full slope.
    "llama": {
        "n_embd": 256, "n_layer": 2, "n_head": 4, "n_head_kv": 2, "head_dim": 64, "n_ff": 256,
        "eps": 1e-5, "rope_base": 500000.0, "context_length": 131072, "tied": True,
        "llama3_rope": {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                        "original_max_position_embeddings": 8192},
        "position_kernel": {"pairs": [15, 16, 17, 18, 19, 20, 21], "common": 0.7, "amp": 3.4},
        "signed_output_norm": True, "types": ALL_TYPES, "seed": 1,
        "scale": {"emb": 0.13, "q": 0.05, "k": 0.05, "v": 0.055, "o": 0.06, "ff_in": 0.055,
                  "ff_out": 0.015},
    },
    # Qwen2 / Qwen2.5: q, k, v biases, NEOX RoPE, base 1e6, tied (0.5B-style). The q and k
    # biases (larger than the content part) make the score's position dependence without a
    # kernel.
    "qwen2": {
        "n_embd": 256, "n_layer": 2, "n_head": 4, "n_head_kv": 2, "head_dim": 64, "n_ff": 256,
        "eps": 1e-6, "rope_base": 1000000.0, "context_length": 32768, "tied": True,
        "signed_output_norm": True, "types": ALL_TYPES, "seed": 2,
        "scale": {"emb": 0.13, "q": 0.09, "k": 0.095, "v": 0.055, "o": 0.04, "ff_in": 0.06,
                  "ff_out": 0.03, "bias": 1.8},
    },
    # Qwen3: RMS-normed q and k per head before RoPE, head_dim from attention.key_length
    # (6 heads x 64 = 384 != hidden 256), NEOX RoPE, base 1e6, tied (0.6B-style).
    "qwen3": {
        "n_embd": 256, "n_layer": 2, "n_head": 6, "n_head_kv": 2, "head_dim": 64, "n_ff": 256,
        "eps": 1e-6, "rope_base": 1000000.0, "context_length": 40960, "tied": True,
        "write_head_dim": True, "position_kernel": {"pairs": [6, 7, 8, 9], "common": 0.7, "amp": 3.0},
        "signed_output_norm": True, "types": K_TYPES, "seed": 3,
        "scale": {"emb": 0.12, "q": 0.09, "k": 0.09, "v": 0.05, "o": 0.04, "ff_in": 0.05,
                  "ff_out": 0.025, "qk_norm": 1.0},
    },
    # Gemma 2: embeddings scaled by sqrt(hidden), post-attention and post-FFN norms, GELU(tanh)
    # gated FFN, attention-logit and final-logit soft-capping, sliding window on even layers
    # (llama.cpp's pattern 2, hard-coded), one RoPE base, always tied. The caps (30 / 7.5 instead
    # of Gemma 2's 50 / 30) are set so that they act on these scores and logits: the position
    # kernel's raw scores reach 50-150 on layer 0 and 25-100 on layer 1, which the cap folds
    # below 30. The post-attention norm of the sliding layer 0 is the larger, so that what its
    # window shows weighs more.
    "gemma2": {
        "n_embd": 256, "n_layer": 2, "n_head": 4, "n_head_kv": 2, "head_dim": 64, "n_ff": 256,
        "eps": 1e-6, "rope_base": 10000.0, "context_length": 8192, "tied": True,
        "write_head_dim": True, "sliding_window": 16,
        "attn_logit_softcapping": 30.0, "final_logit_softcapping": 7.5,
        "position_kernel": {"pairs": [10, 11, 12, 13], "common": 0.7, "amp": 3.0},
        "signed_output_norm": True, "types": K_TYPES, "seed": 4,
        "scale": {"emb": 0.14, "q": 0.06, "k": 0.07, "v": 0.047, "o": 0.04, "ff_in": 0.035,
                  "ff_out": 0.03, "post_attn": [2.6, 0.86], "post_ffn": 0.8},
    },
    # Gemma 3 (text): Gemma 2's block without soft-capping, plus RMS-normed q and k, a local RoPE
    # base 10000 on sliding-window layers and 1e6 on global ones, window 8. Real Gemma 3 files
    # rely on llama.cpp's default pattern 6 (layers 5, 11, ... global); six layers would not fit
    # in 1 MiB, so this file has 2 layers and attention.sliding_window_pattern = 2 (layer 0
    # sliding, layer 1 global), which llama.cpp reads in place of the default.
    "gemma3": {
        "n_embd": 256, "n_layer": 2, "n_head": 4, "n_head_kv": 1, "head_dim": 64, "n_ff": 256,
        "eps": 1e-6, "rope_base": 1000000.0, "rope_base_swa": 10000.0, "context_length": 32768,
        "tied": True, "write_head_dim": True, "sliding_window": 8, "sliding_window_pattern": 2,
        "position_kernel": {"pairs": [9, 10, 11, 12], "common": 0.7, "amp": 3.0},
        "signed_output_norm": True, "types": K_TYPES, "seed": 5,
        "scale": {"emb": 0.12, "q": 0.09, "k": 0.09, "v": 0.048, "o": 0.036, "ff_in": 0.049,
                  "ff_out": 0.03, "qk_norm": 1.5, "post_attn": 1.3, "post_ffn": 0.8},
    },
    # Phi-3 / Phi-3.5 mini: fused attn_qkv (q, k, v rows in that order), ffn_up holding gate then
    # up (2 * n_ff rows), NEOX RoPE with LongRoPE factor tensors (short used while the context
    # size <= original context 4096), rope.scaling.attn_factor sqrt(1 + ln 32 / ln 4096) as the
    # converter writes for a 128k model, untied output (its own scale `out`). sliding_window is
    # written (Phi-3 configs have one) but llama.cpp ignores it for phi3.
    "phi3": {
        "n_embd": 256, "n_layer": 2, "n_head": 4, "n_head_kv": 2, "head_dim": 64, "n_ff": 256,
        "eps": 1e-5, "rope_base": 10000.0, "context_length": 131072, "tied": False,
        "original_context_length": 4096, "sliding_window": 16,
        "position_kernel": {"pairs": [10, 11, 12, 13, 14], "common": 1.7, "amp": 1.4},
        "types": K_TYPES, "seed": 6,
        "scale": {"emb": 0.6, "out": 0.15, "q": 0.04, "k": 0.05, "v": 0.06, "o": 0.087,
                  "ff_in": 0.048, "ff_out": 0.04},
    },
}

# Features whose omission `Reference(drop=...)` simulates, per architecture.
# rope_freqs: rope_freqs.weight ignored; qkv_bias: q/k/v biases ignored; qk_norm: q/k RMS norms
# skipped; softcaps / attn_softcap / final_softcap: soft-capping skipped; sliding_window: every
# layer global; rope_base_swa: the global base on sliding layers too; embd_scale: no sqrt(hidden)
# on the embeddings; norm_plus_one: 1 added again to every norm weight (as HF's Gemma modules do
# to the raw checkpoint); gelu_erf: erf GELU instead of the tanh form; rope_factors: LongRoPE
# factors ignored; attn_factor: rope.scaling.attn_factor ignored; long_factors: the long factors
# instead of the short; gate_up_swapped: the halves of phi3's ffn_up taken in the other order;
# apply_sliding_window: phi3's attention.sliding_window applied (llama.cpp ignores it);
# swa_off_by_one: a window one token wider (key visible while p_query - p_key <= n_swa);
# rope_type_swapped: NEOX RoPE instead of NORM (llama) or NORM instead of NEOX (the others).
FEATURES = {
    "llama": ["rope_freqs", "rope_type_swapped"],
    "qwen2": ["qkv_bias", "rope_type_swapped"],
    "qwen3": ["qk_norm", "rope_type_swapped"],
    "gemma2": ["softcaps", "attn_softcap", "final_softcap", "sliding_window", "swa_off_by_one",
               "embd_scale", "gelu_erf", "rope_type_swapped"],
    "gemma3": ["qk_norm", "sliding_window", "swa_off_by_one", "rope_base_swa", "embd_scale",
               "norm_plus_one", "gelu_erf", "rope_type_swapped"],
    "phi3": ["rope_factors", "attn_factor", "long_factors", "gate_up_swapped",
             "apply_sliding_window", "rope_type_swapped"],
}

FTYPES = {"Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M", "Q5_K_M": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
          "Q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "Q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0"}


# --- writing the models ------------------------------------------------------------------------

def llama3_rope_factors(base, dim, factor, low_freq_factor, high_freq_factor,
                        original_max_position_embeddings):
    """rope_freqs.weight as LlamaModel.generate_extra_tensors computes it (in float32)."""
    freqs = (1.0 / (np.float32(base) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim))))
    freqs = freqs.astype(np.float32)
    low_freq_wavelen = original_max_position_embeddings / low_freq_factor
    high_freq_wavelen = original_max_position_embeddings / high_freq_factor
    factors = []
    for freq in freqs:
        wavelen = np.float32(2 * math.pi) / freq
        if wavelen < high_freq_wavelen:
            factors.append(1.0)
        elif wavelen > low_freq_wavelen:
            factors.append(factor)
        else:
            smooth = np.float32((original_max_position_embeddings / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor))
            factors.append(np.float32(1 / ((1 - smooth) / factor + smooth)))
    return np.array(factors, dtype=np.float32)


def phi3_attn_factor(context_length, original_context_length):
    """Phi3MiniModel.generate_extra_tensors: LongRoPE's attention factor."""
    scale = context_length / original_context_length
    return math.sqrt(1 + math.log(scale) / math.log(original_context_length)) if scale > 1 else 1.0


def make_weights(arch, spec):
    """The model's tensors in file order, as float32 numpy arrays in GGUF's numpy order (a matrix
    with ne = [columns, rows] is an array of shape (rows, columns); y = W @ x)."""
    rng = np.random.default_rng(spec["seed"])
    s = spec["scale"]
    n_vocab = len(tokenizer_fields()["tokenizer.ggml.tokens"])
    e, hd, f = spec["n_embd"], spec["head_dim"], spec["n_ff"]
    nq, nkv = spec["n_head"] * hd, spec["n_head_kv"] * hd
    normal = lambda sd, *shape: rng.normal(0.0, sd, size=shape).astype(np.float32)
    norm = lambda n: (1.0 + rng.normal(0.0, 0.1, size=n)).astype(np.float32)
    at = lambda key, i: s[key][i] if isinstance(s[key], list) else s[key]  # per-layer values

    t = {"token_embd.weight": normal(s["emb"], n_vocab, e)}
    if arch == "llama":
        t["rope_freqs.weight"] = llama3_rope_factors(spec["rope_base"], hd, **spec["llama3_rope"])
    kernel = spec.get("position_kernel")
    if kernel:
        common = rng.normal(size=e)
        common = (common / np.linalg.norm(common)).astype(np.float32)
        t["token_embd.weight"] += kernel["common"] * common
        amps = kernel["amp"] if isinstance(kernel["amp"], list) else [kernel["amp"]] * spec["n_layer"]
        if arch == "llama":  # pairs that rope_freqs slows down
            assert all(t["rope_freqs.weight"][p] > 1 for p in kernel["pairs"])
    if arch == "phi3":
        # Monotone factors as in Phi-3.5-mini's config: ~1 for the fast pairs, growing for the slow.
        t["rope_factors_long.weight"] = np.sort(1.0 + rng.uniform(0.0, 40.0, hd // 2)).astype(np.float32)
        t["rope_factors_short.weight"] = np.sort(1.0 + rng.uniform(0.0, 2.0, hd // 2)).astype(np.float32)
    for i in range(spec["n_layer"]):
        p = f"blk.{i}."
        q, k, v = normal(at("q", i), nq, e), normal(at("k", i), nkv, e), normal(at("v", i), nkv, e)
        if kernel:  # NORM RoPE pairs rows (2p, 2p + 1) of a head, NEOX (p, p + hd/2)
            for pair in kernel["pairs"]:
                first, second = (2 * pair, 2 * pair + 1) if arch == "llama" else (pair, pair + hd // 2)
                q[first::hd], q[second::hd] = amps[i] * common, 0.0
                k[first::hd], k[second::hd] = 0.0, amps[i] * common
        t[p + "attn_norm.weight"] = norm(e)
        if arch == "phi3":
            t[p + "attn_qkv.weight"] = np.concatenate([q, k, v])
        else:
            t[p + "attn_q.weight"], t[p + "attn_k.weight"], t[p + "attn_v.weight"] = q, k, v
        if arch == "qwen2":
            t[p + "attn_q.bias"] = normal(at("bias", i), nq)
            t[p + "attn_k.bias"] = normal(at("bias", i), nkv)
            t[p + "attn_v.bias"] = normal(at("bias", i), nkv)
        if arch in ("qwen3", "gemma3"):
            t[p + "attn_q_norm.weight"] = (at("qk_norm", i) * norm(hd)).astype(np.float32)
            t[p + "attn_k_norm.weight"] = (at("qk_norm", i) * norm(hd)).astype(np.float32)
        t[p + "attn_output.weight"] = normal(at("o", i), e, nq)
        if arch in ("gemma2", "gemma3"):
            t[p + "post_attention_norm.weight"] = (at("post_attn", i) * norm(e)).astype(np.float32)
        t[p + "ffn_norm.weight"] = norm(e)
        gate, up = normal(at("ff_in", i), f, e), normal(at("ff_in", i), f, e)
        if arch == "phi3":
            t[p + "ffn_up.weight"] = np.concatenate([gate, up])
        else:
            t[p + "ffn_gate.weight"], t[p + "ffn_up.weight"] = gate, up
        t[p + "ffn_down.weight"] = normal(at("ff_out", i), e, f)
        if arch in ("gemma2", "gemma3"):
            t[p + "post_ffw_norm.weight"] = (at("post_ffn", i) * norm(e)).astype(np.float32)
    t["output_norm.weight"] = norm(e)
    if spec.get("signed_output_norm"):
        t["output_norm.weight"] *= np.where(rng.random(e) < 0.5, -1.0, 1.0).astype(np.float32)
    if not spec["tied"]:
        t["output.weight"] = normal(s.get("out", s["emb"]), n_vocab, e)
    return t


_TOKENIZER_FIELDS = None


def tokenizer_fields():
    global _TOKENIZER_FIELDS
    if _TOKENIZER_FIELDS is None:
        reader = GGUFReader(str(TOKENIZER))
        _TOKENIZER_FIELDS = {key: field.contents() for key, field in reader.fields.items()
                             if key.startswith("tokenizer.")}
    return _TOKENIZER_FIELDS


def write_model(path, arch, spec, tensors, f32):
    w = GGUFWriter(str(path), arch)
    # Not the architecture's name: llama.cpp edits token attributes of models named "phi3".
    w.add_name("clue tiny random model")
    w.add_context_length(spec["context_length"])
    w.add_embedding_length(spec["n_embd"])
    w.add_block_count(spec["n_layer"])
    w.add_feed_forward_length(spec["n_ff"])
    w.add_head_count(spec["n_head"])
    w.add_head_count_kv(spec["n_head_kv"])
    w.add_layer_norm_rms_eps(spec["eps"])
    w.add_rope_freq_base(spec["rope_base"])
    if spec.get("write_head_dim"):
        w.add_key_length(spec["head_dim"])
        w.add_value_length(spec["head_dim"])
    if arch in ("llama", "phi3"):
        w.add_rope_dimension_count(spec["head_dim"])
    if arch == "llama":
        w.add_vocab_size(len(tokenizer_fields()["tokenizer.ggml.tokens"]))
    if "sliding_window" in spec:
        w.add_sliding_window(spec["sliding_window"])
    if "sliding_window_pattern" in spec:
        w.add_sliding_window_pattern(spec["sliding_window_pattern"])
    if "rope_base_swa" in spec:
        w.add_rope_freq_base_swa(spec["rope_base_swa"])
    if "attn_logit_softcapping" in spec:
        w.add_attn_logit_softcapping(spec["attn_logit_softcapping"])
    if "final_logit_softcapping" in spec:
        w.add_final_logit_softcapping(spec["final_logit_softcapping"])
    if arch == "phi3":
        w.add_rope_scaling_orig_ctx_len(spec["original_context_length"])
        w.add_rope_scaling_attn_factors(
            phi3_attn_factor(spec["context_length"], spec["original_context_length"]))
    w.add_file_type(LlamaFileType.ALL_F32 if f32 else LlamaFileType.MOSTLY_F16)

    tok = tokenizer_fields()
    w.add_tokenizer_model(tok["tokenizer.ggml.model"])
    w.add_tokenizer_pre(tok["tokenizer.ggml.pre"])
    w.add_token_list(tok["tokenizer.ggml.tokens"])
    w.add_token_types(tok["tokenizer.ggml.token_type"])
    w.add_token_merges(tok["tokenizer.ggml.merges"])
    w.add_bos_token_id(tok["tokenizer.ggml.bos_token_id"])
    w.add_eos_token_id(tok["tokenizer.ggml.eos_token_id"])

    for name, values in tensors.items():
        w.add_tensor(name, values if f32 or values.ndim == 1 else values.astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# --- the float64 decoder -----------------------------------------------------------------------

class Reference:
    """The architecture's decoder in float64 on the GGUF's dequantized tensors, one full pass per
    call, following llama.cpp's graph (src/models/<arch>.cpp) and reading the metadata with
    llama.cpp's defaults. `drop` names features to leave out (FEATURES)."""

    def __init__(self, path):
        reader = GGUFReader(str(path))
        fields = {key: field.contents() for key, field in reader.fields.items()}
        self.arch = arch = fields["general.architecture"]
        get = lambda key, default=None: fields.get(f"{arch}.{key}", default)
        self.n_embd = get("embedding_length")
        self.n_layer = get("block_count")
        self.n_head = get("attention.head_count")
        self.n_head_kv = get("attention.head_count_kv", self.n_head)
        self.head_dim = get("attention.key_length", self.n_embd // self.n_head)
        self.n_rot = get("rope.dimension_count", self.head_dim)
        self.eps = get("attention.layer_norm_rms_epsilon")
        self.base = get("rope.freq_base", 10000.0)
        self.attn_factor = get("rope.scaling.attn_factor", 1.0)
        self.n_ctx_orig = get("rope.scaling.original_context_length", get("context_length"))
        self.neox = arch != "llama"
        # Sliding window (llama.cpp: masked when p_query - p_key >= n_swa) and its layers.
        self.n_swa, pattern, self.base_swa = 0, 1, self.base
        self.attn_cap, self.final_cap = 0.0, 0.0
        if arch == "gemma2":
            self.n_swa = get("attention.sliding_window", 4096)
            pattern = get("attention.sliding_window_pattern", 2)
            self.base_swa = get("rope.freq_base_swa", self.base)
            self.attn_cap = get("attn_logit_softcapping", 50.0)
            self.final_cap = get("final_logit_softcapping", 30.0)
        if arch == "gemma3":
            self.n_swa = get("attention.sliding_window", 0)
            if self.n_swa > 0:
                pattern = get("attention.sliding_window_pattern", 6)
                self.base_swa = get("rope.freq_base_swa", 10000.0)
            self.final_cap = get("final_logit_softcapping", 0.0)
        # phi3 reads attention.sliding_window but llama.cpp disables SWA for it.
        self.phi3_window = get("attention.sliding_window", 0) if arch == "phi3" else 0
        self.is_swa = [self.n_swa > 0 and (pattern == 0 or il % pattern < pattern - 1)
                       for il in range(self.n_layer)]
        self.w = {}
        for tensor in reader.tensors:
            values = dequantize(tensor.data, tensor.tensor_type).astype(np.float64)
            self.w[tensor.name] = values.reshape([int(n) for n in reversed(tensor.shape)])
        self.output = self.w.get("output.weight", self.w["token_embd.weight"])
        if arch == "gemma2":
            self.output = self.w["token_embd.weight"]  # gemma2 always ties

    def rms_norm(self, x, weight):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.eps) * weight

    def rope(self, x, base, factors, mscale, neox):
        """ggml_rope_ext without YaRN: angle p * base^(-2i/n_rot) / factors[i], cos and sin
        multiplied by mscale; NORM rotates (x[2i], x[2i+1]), NEOX (x[i], x[i + n_rot/2])."""
        n, half = x.shape[0], self.n_rot // 2
        inverse = base ** (-2.0 * np.arange(half) / self.n_rot)
        if factors is not None:
            inverse = inverse / factors
        angle = np.arange(n, dtype=np.float64)[:, None, None] * inverse[None, None, :]
        cos, sin = np.cos(angle) * mscale, np.sin(angle) * mscale
        out = x.copy()
        if neox:
            x0, x1 = x[..., :half], x[..., half:self.n_rot]
            out[..., :half] = x0 * cos - x1 * sin
            out[..., half:self.n_rot] = x0 * sin + x1 * cos
        else:
            x0, x1 = x[..., 0:self.n_rot:2], x[..., 1:self.n_rot:2]
            out[..., 0:self.n_rot:2] = x0 * cos - x1 * sin
            out[..., 1:self.n_rot:2] = x0 * sin + x1 * cos
        return out

    def attention(self, q, k, v, window, cap):
        """Causal GQA attention on already scaled q (query head h reads kv head h // group);
        scores soft-capped before the mask and softmax, as llama.cpp's build_attn_mha."""
        n = q.shape[0]
        group = self.n_head // self.n_head_kv
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        scores = np.einsum("thd,uhd->htu", q, k)
        if cap:
            scores = cap * np.tanh(scores / cap)
        t, u = np.arange(n)[:, None], np.arange(n)[None, :]
        visible = u <= t
        if window:
            visible &= (t - u) < window
        scores = np.where(visible[None], scores, -np.inf)
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        return np.einsum("htu,uhd->thd", weights, v).reshape(n, -1)

    def logits(self, ids, drop=()):
        arch, n, d = self.arch, len(ids), self.head_dim
        gemma = arch in ("gemma2", "gemma3")
        norm_w = (lambda w: w + 1.0) if "norm_plus_one" in drop else (lambda w: w)
        x = self.w["token_embd.weight"][ids]
        if gemma and "embd_scale" not in drop:
            x = x * np.float64(np.sqrt(np.float32(self.n_embd)))
        factors, mscale = None, 1.0
        if arch == "llama" and "rope_freqs" not in drop:
            factors = self.w.get("rope_freqs.weight")
        if arch == "phi3":
            # llama.cpp: long factors when the context size (n_ctx) > original context length.
            long = LLAMA["n_ctx"] > self.n_ctx_orig
            if "long_factors" in drop:
                long = not long
            if "rope_factors" not in drop:
                factors = self.w.get("rope_factors_long.weight" if long else "rope_factors_short.weight")
            if "attn_factor" not in drop:
                mscale = self.attn_factor
        for il in range(self.n_layer):
            w = lambda name: self.w[f"blk.{il}.{name}"]
            has = lambda name: f"blk.{il}.{name}" in self.w
            h = self.rms_norm(x, norm_w(w("attn_norm.weight")))
            if has("attn_qkv.weight"):
                qkv = h @ w("attn_qkv.weight").T
                nq, nkv = self.n_head * d, self.n_head_kv * d
                q, k, v = qkv[:, :nq], qkv[:, nq:nq + nkv], qkv[:, nq + nkv:]
            else:
                q, k, v = h @ w("attn_q.weight").T, h @ w("attn_k.weight").T, h @ w("attn_v.weight").T
            if "qkv_bias" not in drop:
                q = q + w("attn_q.bias") if has("attn_q.bias") else q
                k = k + w("attn_k.bias") if has("attn_k.bias") else k
                v = v + w("attn_v.bias") if has("attn_v.bias") else v
            q = q.reshape(n, self.n_head, d)
            k = k.reshape(n, self.n_head_kv, d)
            v = v.reshape(n, self.n_head_kv, d)
            if has("attn_q_norm.weight") and "qk_norm" not in drop:
                q = self.rms_norm(q, norm_w(w("attn_q_norm.weight")))
                k = self.rms_norm(k, norm_w(w("attn_k_norm.weight")))
            swa = self.is_swa[il]
            base = self.base_swa if swa and "rope_base_swa" not in drop else self.base
            neox = self.neox != ("rope_type_swapped" in drop)
            q = self.rope(q, base, factors, mscale, neox)
            k = self.rope(k, base, factors, mscale, neox)
            q = q / np.sqrt(d)  # all six: 1/sqrt(head_dim) (Gemma 27B models would differ)
            window = self.n_swa if swa and "sliding_window" not in drop else 0
            if window and "swa_off_by_one" in drop:
                window += 1  # masking p_query - p_key > n_swa instead of >= n_swa
            if arch == "phi3" and "apply_sliding_window" in drop:
                window = self.phi3_window
            cap = self.attn_cap if "softcaps" not in drop and "attn_softcap" not in drop else 0.0
            attn = self.attention(q, k, v, window, cap) @ w("attn_output.weight").T
            if gemma:
                attn = self.rms_norm(attn, norm_w(w("post_attention_norm.weight")))
            x = x + attn
            h = self.rms_norm(x, norm_w(w("ffn_norm.weight")))
            if arch == "phi3":
                gate_up = h @ w("ffn_up.weight").T
                gate, up = gate_up[:, :gate_up.shape[1] // 2], gate_up[:, gate_up.shape[1] // 2:]
                if "gate_up_swapped" in drop:
                    gate, up = up, gate
            else:
                gate, up = h @ w("ffn_gate.weight").T, h @ w("ffn_up.weight").T
            if gemma and "gelu_erf" in drop:  # the exact GELU instead of llama.cpp's tanh form
                act = 0.5 * gate * (1 + np.vectorize(math.erf)(gate / np.sqrt(2)))
            elif gemma:  # GELU, tanh approximation
                act = 0.5 * gate * (1 + np.tanh(np.sqrt(2 / np.pi) * (gate + 0.044715 * gate ** 3)))
            else:  # SiLU
                act = gate / (1 + np.exp(-gate))
            ffn = (act * up) @ w("ffn_down.weight").T
            if gemma:
                ffn = self.rms_norm(ffn, norm_w(w("post_ffw_norm.weight")))
            x = x + ffn
        logits = self.rms_norm(x, norm_w(self.w["output_norm.weight"])) @ self.output.T
        final_cap = self.final_cap if "softcaps" not in drop and "final_softcap" not in drop else 0.0
        if final_cap:
            logits = final_cap * np.tanh(logits / final_cap)
        return logits


# --- scoring -----------------------------------------------------------------------------------

def log_softmax(logits):
    """Row-wise log-softmax in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def top1_and_margin(row):
    """The most likely id (the lowest among equals) and its logit's lead over the second best."""
    best = int(np.argmax(row))
    second = np.partition(np.asarray(row, dtype=np.float64), -2)[-2]
    return best, round(float(row[best]) - float(second), DECIMALS)


def scored(logits, ids):
    """log p(ids[i] | ids[:i]) for i >= 1, and the top-1 id and margin at every position."""
    logprobs = log_softmax(logits[:-1])
    tops = [top1_and_margin(row) for row in logits]
    return ([round(float(logprobs[i - 1, ids[i]]), DECIMALS) for i in range(1, len(ids))],
            [best for best, _ in tops], [margin for _, margin in tops])


def f64_greedy(reference, ids):
    out, margins, ids = [], [], list(ids)
    for _ in range(GREEDY_TOKENS):
        best, margin = top1_and_margin(reference.logits(ids)[-1])
        out.append(best)
        margins.append(margin)
        ids.append(best)
    return out, margins


def feature_drops(reference, arch):
    """Mean |Δ log p| (nats per predicted token, all prompts) when a feature is left out."""
    full = {name: log_softmax(reference.logits(ids)) for name, ids in PROMPTS.items()}
    result = {}
    for feature in FEATURES[arch]:
        gaps = []
        for name, ids in PROMPTS.items():
            dropped = log_softmax(reference.logits(ids, drop=(feature,)))
            rows = np.arange(len(ids) - 1)
            gaps.extend(np.abs(dropped[rows, ids[1:]] - full[name][rows, ids[1:]]))
        result[feature] = round(float(np.mean(gaps)), 4)
    return result


# --- llama.cpp ---------------------------------------------------------------------------------

def llama_cpp_build():
    import llama_cpp
    ggml = ctypes.CDLL(str(pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    ggml.ggml_version.restype = ctypes.c_char_p
    ggml.ggml_commit.restype = ctypes.c_char_p
    return {
        "llama_cpp_python": llama_cpp.__version__,
        "ggml_version": ggml.ggml_version().decode("utf-8"),
        "ggml_commit": ggml.ggml_commit().decode("utf-8"),
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8").strip(),
    }


def quantize(src, dst, type_name):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, FTYPES[type_name])
    params.nthread = 2
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {type_name}) returned {status}")


def run_file(path, reference):
    """llama.cpp's and the float64 decoder's numbers for every prompt of one file."""
    import llama_cpp
    llm = llama_cpp.Llama(model_path=str(path), verbose=False, **LLAMA)
    records = []
    for name, ids in PROMPTS.items():
        llm.reset()
        llm.eval(ids)
        logits = np.array(llm.scores[: len(ids)], dtype=np.float32)
        prompt_logprobs, top1, top1_margin = scored(logits, ids)
        greedy_ids, greedy_margins = [], []
        row = logits[-1]
        for step in range(GREEDY_TOKENS):
            best, margin = top1_and_margin(row)
            greedy_ids.append(best)
            greedy_margins.append(margin)
            if step + 1 < GREEDY_TOKENS:
                llm.eval([best])
                row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        f64_logprobs, f64_top1, f64_top1_margin = scored(reference.logits(ids), ids)
        f64_greedy_ids, f64_greedy_margin = f64_greedy(reference, ids)
        records.append({
            "name": name,
            "ids": ids,
            "prompt_logprobs": prompt_logprobs,
            "top1": top1,
            "top1_margin": top1_margin,
            "greedy_ids": greedy_ids,
            "greedy_margin": greedy_margins,
            "f64_logprobs": f64_logprobs,
            "f64_top1": f64_top1,
            "f64_top1_margin": f64_top1_margin,
            "f64_greedy_ids": f64_greedy_ids,
            "f64_greedy_margin": f64_greedy_margin,
        })
    del llm
    return records


def gaps(records):
    diffs = np.concatenate([np.abs(np.subtract(r["prompt_logprobs"], r["f64_logprobs"]))
                            for r in records])
    return round(float(diffs.mean()), 5), round(float(diffs.max()), 5)


def agreement(records):
    """llama.cpp against the float64 decoder per prompt: the largest mean |Δ log p| over the
    prompts, and the positions where llama.cpp's top-1 leads by more than DECISIVE_MARGIN but the
    float64 top-1 is another id ([prompt, position, llama.cpp margin, float64 margin])."""
    worst = max(float(np.mean(np.abs(np.subtract(r["prompt_logprobs"], r["f64_logprobs"]))))
                for r in records)
    decisive = [[r["name"], i, margin, r["f64_top1_margin"][i]]
                for r in records for i, (top, margin) in enumerate(zip(r["top1"], r["top1_margin"]))
                if margin > DECISIVE_MARGIN and top != r["f64_top1"][i]]
    return {"max_prompt_mean_abs_diff": round(worst, 5),
            "decisive_top1_disagreements": len(decisive), "decisive_positions": decisive}


def tensor_types(path):
    return {t.name: t.tensor_type.name for t in GGUFReader(str(path)).tensors}


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def dumps(value, indent=0):
    """Indented JSON with each list on one line."""
    if isinstance(value, dict):
        pad = " " * (indent + 1)
        items = [f"{pad}{json.dumps(key)}: {dumps(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        pad = " " * (indent + 1)
        return "[\n" + ",\n".join(pad + dumps(item, indent + 1) for item in value) + "\n" + " " * indent + "]"
    return json.dumps(value, ensure_ascii=False)


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    golden = {
        "llama_cpp": llama_cpp_build(),
        "settings": {**LLAMA, "greedy_tokens": GREEDY_TOKENS, "decimals": DECIMALS,
                     "decisive_margin": DECISIVE_MARGIN},
        "f64_reference": f"numpy {np.__version__} float64, weights dequantized by gguf-py; "
                         "class Reference of make.py",
        "prompts": PROMPTS,
        "archs": {},
        "files": {},
    }
    for arch, spec in ARCHS.items():
        tensors = make_weights(arch, spec)
        config = {key: value for key, value in spec.items() if key not in ("types", "scale")}
        entry = {"config": config,
                 "tensors": {name: list(values.shape) for name, values in tensors.items()},
                 "feature_drops": None, "reference_check": {}}
        for kind in ("F16", "F32"):
            path = WORK / f"{arch}-{kind}.gguf"
            write_model(path, arch, spec, tensors, f32=kind == "F32")
            reference = Reference(path)
            if kind == "F16":
                entry["feature_drops"] = feature_drops(reference, arch)
            records = run_file(path, reference)
            mean, worst = gaps(records)
            entry["reference_check"][kind] = {
                "sha256": sha256(path), "mean_abs_diff": mean, "max_abs_diff": worst,
                **agreement(records),
                "per_prompt": {r["name"]: round(float(np.mean(np.abs(np.subtract(
                    r["prompt_logprobs"], r["f64_logprobs"])))), 5) for r in records},
                "logit_std": round(float(np.std(reference.logits(PROMPTS["long"]))), 3),
            }
            print(f"{arch}-{kind}: llama.cpp vs float64 mean |Δ| {mean:.5f} (max {worst:.5f})")
        print(f"{arch}: feature drops {entry['feature_drops']}")
        golden["archs"][arch] = entry
        for type_name in spec["types"]:
            out = HERE / f"{arch}-{type_name}.gguf"
            quantize(WORK / f"{arch}-F16.gguf", out, type_name)
            records = run_file(out, Reference(out))
            mean, worst = gaps(records)
            golden["files"][out.name] = {
                "arch": arch, "type": type_name, "sha256": sha256(out), "bytes": out.stat().st_size,
                "tensor_types": tensor_types(out), "mean_abs_diff": mean, "max_abs_diff": worst,
                **agreement(records), "prompts": records,
            }
            check = golden["files"][out.name]
            print(f"{out.name}: {out.stat().st_size} bytes, llama.cpp vs float64 mean |Δ| "
                  f"{mean:.5f} (max {worst:.5f}, worst prompt {check['max_prompt_mean_abs_diff']:.5f}, "
                  f"decisive top-1 disagreements {check['decisive_top1_disagreements']})")
    (HERE / "goldens.json").write_text(dumps(golden) + "\n")


if __name__ == "__main__":
    main()
