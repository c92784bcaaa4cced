"""Golden prompt log-probs and greedy continuations of SmolLM2-135M-Instruct from llama.cpp
(llama-cpp-python 0.3.36), for tests/parity.rs. Same pinned environment as the tokenizer goldens:

    python3.11 -m venv venv
    CMAKE_ARGS="-DGGML_NATIVE=OFF" venv/bin/pip install -r tests/golden/model/requirements.txt
    venv/bin/python tests/golden/model/make.py

Loads models/SmolLM2-135M-Instruct.Q4_1.gguf (fetched by scripts/setup) on the CPU with the
settings of LLAMA below, and writes smollm2.json next to this script: the settings, llama.cpp's
version, and for each of six prompts its text, its ids (`add_bos` as the model asks, special
tokens parsed), for every position i ≥ 1 `log p(id_i | ids_<i)` (log-softmax in float64 of the
float32 logits at i - 1), for every position the top-1 next id and the top-1/top-2 logit
margin, and the 16-token greedy continuation (argmax, lowest id among equals, as llama.cpp's
greedy sampler; evaluated token by token, end-of-generation tokens included) with the margin of
each step.

llama.cpp multiplies its quantized weights by activations rounded to 8 bits, which moves this
small model's log-probs by about 0.06 nats. So each prompt also gets the exact model's numbers
(`f64_*`): the same decoder written here in numpy float64 on the weights dequantized by gguf-py,
the way llama.cpp reads the file (q/k rows stored for RoPE on adjacent pairs, tied output head).
"""

import ctypes
import hashlib
import json
import pathlib

import jinja2
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

import llama_cpp

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS_JSON = ROOT / "src" / "tasks" / "prompts.json"

# Keyword arguments of llama_cpp.Llama, recorded in the golden: every logit row kept, one CPU
# device, the prompt evaluated in batches of 512, no flash attention.
LLAMA = {
    "n_ctx": 2048,
    "n_batch": 512,
    "n_ubatch": 512,
    "n_threads": 2,
    "n_threads_batch": 2,
    "seed": 1234,
    "logits_all": True,
    "flash_attn": False,
    "n_gpu_layers": 0,
}
GREEDY_TOKENS = 16
# Log-probs and margins are stored to this many decimals, far below the test's tolerances.
DECIMALS = 6

PLAIN = (
    "The history of medicine is a long story of careful observation. Long before laboratories "
    "and imaging, physicians learned to read the body through"
)

CHAT = (
    "<|im_start|>system\nYou are a helpful assistant who answers questions about health in "
    "plain language.<|im_end|>\n<|im_start|>user\nWhat are the most common symptoms of iron "
    "deficiency anemia, and how is it usually treated?<|im_end|>\n<|im_start|>assistant\n"
)

NUMBERS = (
    "BP 142/91 mmHg, HR 88 bpm, SpO2 96% on room air, temp 37.8 °C. HbA1c 7.9%, fasting "
    "glucose 162 mg/dL, eGFR 58 mL/min/1.73 m², LDL 3.4 mmol/L. Plan: metformin 500 mg twice "
    "daily, increase to 1000 mg after 2 weeks; lisinopril 10 mg once daily; recheck in 3 months"
)

# Fictional: written for this test, about no real patient.
DISCHARGE = (
    "DISCHARGE SUMMARY. The patient is a 67-year-old man with a history of type 2 diabetes "
    "mellitus, hypertension, chronic kidney disease stage 3a and a prior inferior myocardial "
    "infarction treated with a drug-eluting stent in 2015, who presented to the emergency "
    "department with two days of progressive shortness of breath, orthopnea and bilateral leg "
    "swelling. On arrival he was afebrile, blood pressure 168/94 mmHg, heart rate 104 beats per "
    "minute and irregular, oxygen saturation 89% on room air. Examination showed bibasilar "
    "crackles, an elevated jugular venous pressure and pitting edema to the knees. The "
    "electrocardiogram revealed atrial fibrillation with rapid ventricular response and no acute "
    "ST changes, and NT-proBNP was 5,820 pg/mL. Transthoracic echocardiography showed a left ventricular ejection "
    "fraction of 35% with inferior wall hypokinesis and moderate mitral regurgitation. He was "
    "treated with intravenous furosemide with a net negative fluid balance of 6.2 liters over "
    "four days, rate control with metoprolol, and anticoagulation with apixaban after a shared "
    "decision discussion of his bleeding risk. Creatinine rose from 1.4 to 1.7 mg/dL during "
    "diuresis and returned to 1.5 mg/dL at discharge. He was discharged home in stable condition, breathing "
    "comfortably on room air, with instructions to weigh himself daily, limit sodium intake, and "
    "attend a cardiology follow-up appointment in two weeks."
)

CODES = (
    "ICD-10 codes: E11.9; I10; N18.31; I25.2; I48.91; I50.22; Z95.5; Z79.01; E78.5; K21.9; "
    "F32.A; J44.1; M54.50; R07.89\n- E11.9 Type 2 diabetes mellitus without complications\n- I10"
)


def mednli_prompt(model_template):
    """A MedNLI query as CLUE's paper profile builds it: the task's system prompt and one user
    turn, rendered with the model's own chat template and its generation prompt."""
    profile = json.loads(PROMPTS_JSON.read_text())["profiles"]["paper-2024-06"]["mednli"]
    user = profile["user_prompt_template"].format(
        sentence1="The patient was started on intravenous heparin for a new pulmonary embolism.",
        sentence2="The patient is receiving anticoagulation.",
    )
    messages = [{"role": "system", "content": profile["sys_prompt"]},
                {"role": "user", "content": user}]
    return jinja2.Template(model_template).render(messages=messages, add_generation_prompt=True)


def log_softmax(logits):
    """Row-wise log-softmax in float64 of float32 logits."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def top1_and_margin(row):
    """The most likely id (the lowest among equals) and its logit's lead over the second best."""
    best = int(np.argmax(row))
    second = np.partition(row.astype(np.float64), -2)[-2]
    return best, round(float(row[best]) - float(second), DECIMALS)


class Float64Llama:
    """The Llama decoder in float64 from the GGUF's dequantized tensors (no cache: each prompt is
    one pass)."""

    def __init__(self, path):
        reader = GGUFReader(str(path))
        field = lambda key: reader.fields[key].contents()
        self.layers = field("llama.block_count")
        self.heads = field("llama.attention.head_count")
        self.kv_heads = field("llama.attention.head_count_kv")
        self.eps = field("llama.attention.layer_norm_rms_epsilon")
        self.rope_base = field("llama.rope.freq_base")
        self.w = {}
        for tensor in reader.tensors:
            values = dequantize(tensor.data, tensor.tensor_type).astype(np.float64)
            self.w[tensor.name] = values.reshape([int(n) for n in reversed(tensor.shape)])
        self.head_dim = self.w["blk.0.attn_q.weight"].shape[0] // self.heads
        self.output = self.w.get("output.weight", self.w["token_embd.weight"])

    def rms_norm(self, x, weight):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.eps) * weight

    def rope(self, x):
        """llama.cpp's RoPE for Llama: rotates adjacent pairs (x[2i], x[2i+1]) of each head."""
        positions = np.arange(x.shape[0], dtype=np.float64)
        inverse = self.rope_base ** (-np.arange(0, self.head_dim, 2) / self.head_dim)
        angle = positions[:, None, None] * inverse[None, None, :]
        even, odd = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = even * np.cos(angle) - odd * np.sin(angle)
        out[..., 1::2] = even * np.sin(angle) + odd * np.cos(angle)
        return out

    def logits(self, ids):
        n, d, group = len(ids), self.head_dim, self.heads // self.kv_heads
        x = self.w["token_embd.weight"][ids]
        causal = np.triu(np.full((n, n), -np.inf), 1)
        for layer in range(self.layers):
            w = lambda name: self.w[f"blk.{layer}.{name}.weight"]
            h = self.rms_norm(x, w("attn_norm"))
            q = self.rope((h @ w("attn_q").T).reshape(n, self.heads, d))
            k = self.rope((h @ w("attn_k").T).reshape(n, self.kv_heads, d))
            v = (h @ w("attn_v").T).reshape(n, self.kv_heads, d)
            k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
            scores = np.einsum("thd,uhd->htu", q, k) / np.sqrt(d) + causal
            weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
            weights /= weights.sum(axis=-1, keepdims=True)
            x = x + np.einsum("htu,uhd->thd", weights, v).reshape(n, -1) @ w("attn_output").T
            h = self.rms_norm(x, w("ffn_norm"))
            gate, up = h @ w("ffn_gate").T, h @ w("ffn_up").T
            x = x + (gate / (1 + np.exp(-gate)) * up) @ w("ffn_down").T
        return self.rms_norm(x, self.w["output_norm.weight"]) @ self.output.T


def scored(logits, ids):
    """Per prompt: log p(ids[i] | ids[:i]) for i ≥ 1, and the top-1 id and margin at every
    position."""
    logprobs = log_softmax(logits[:-1])
    tops = [top1_and_margin(row) for row in logits]
    return ([round(float(logprobs[i - 1, ids[i]]), DECIMALS) for i in range(1, len(ids))],
            [best for best, _ in tops], [margin for _, margin in tops])


def llama_cpp_build():
    """Which llama.cpp produced the numbers: the Python package, ggml's version and commit, the
    CPU features it was built with."""
    ggml = ctypes.CDLL(str(pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    ggml.ggml_version.restype = ctypes.c_char_p
    ggml.ggml_commit.restype = ctypes.c_char_p
    return {
        "llama_cpp_python": llama_cpp.__version__,
        "ggml_version": ggml.ggml_version().decode("utf-8"),
        "ggml_commit": ggml.ggml_commit().decode("utf-8"),
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8").strip(),
    }


def run_prompt(llm, exact, name, text, add_bos):
    ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)
    llm.reset()
    llm.eval(ids)
    logits = np.array(llm.scores[: len(ids)], dtype=np.float32)
    prompt_logprobs, top1, top1_margin = scored(logits, ids)
    f64_logprobs, f64_top1, f64_top1_margin = scored(exact.logits(ids), ids)

    greedy_ids, greedy_margins = [], []
    row = logits[-1]
    for step in range(GREEDY_TOKENS):
        best, margin = top1_and_margin(row)
        greedy_ids.append(best)
        greedy_margins.append(margin)
        if step + 1 < GREEDY_TOKENS:
            llm.eval([best])
            row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
    return {
        "name": name,
        "text": text,
        "ids": ids,
        "prompt_logprobs": prompt_logprobs,
        "top1": top1,
        "top1_margin": top1_margin,
        "greedy_ids": greedy_ids,
        "greedy_margin": greedy_margins,
        "greedy_text": llm.detokenize(greedy_ids, special=True).decode("utf-8", errors="replace"),
        "f64_logprobs": f64_logprobs,
        "f64_top1": f64_top1,
        "f64_top1_margin": f64_top1_margin,
    }


def dumps(golden):
    """Indented JSON with each list on one line, so that a diff shows which prompt changed."""
    def block(value, indent):
        if not isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        pad = " " * (indent + 1)
        fields = [f"{pad}{json.dumps(key)}: {block(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(fields) + "\n" + " " * indent + "}"

    prompts = ",\n".join("  " + block(prompt, 2) for prompt in golden["prompts"])
    head = {key: value for key, value in golden.items() if key != "prompts"}
    return block(head, 0)[:-2] + ',\n "prompts": [\n' + prompts + "\n ]\n}\n"


def main():
    llm = llama_cpp.Llama(model_path=str(MODEL), verbose=False, **LLAMA)
    exact = Float64Llama(MODEL)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
    prompts = [
        ("plain", PLAIN),
        ("chat", CHAT),
        ("numbers", NUMBERS),
        ("discharge", DISCHARGE),
        ("mednli", mednli_prompt(llm.metadata["tokenizer.chat_template"])),
        ("codes", CODES),
    ]
    golden = {
        "model": MODEL.name,
        "model_sha256": hashlib.sha256(MODEL.read_bytes()).hexdigest(),
        "llama_cpp": llama_cpp_build(),
        "f64_reference": f"numpy {np.__version__} float64, weights dequantized by gguf-py",
        "settings": {**LLAMA, "add_bos": add_bos, "special": True,
                     "greedy_tokens": GREEDY_TOKENS},
        "prompts": [run_prompt(llm, exact, name, text, add_bos) for name, text in prompts],
    }
    (HERE / "smollm2.json").write_text(dumps(golden))
    for prompt in golden["prompts"]:
        gap = np.abs(np.subtract(prompt["prompt_logprobs"], prompt["f64_logprobs"])).mean()
        print(f"{prompt['name']}: {len(prompt['ids'])} tokens, llama.cpp - float64 mean "
              f"|Δ log-prob| {gap:.4f}; greedy: {prompt['greedy_text']!r}")


if __name__ == "__main__":
    main()
