"""llama.cpp's speed on this machine with the default model, for comparing `clue generate`'s
timings in docs/benchmarks.md (never committed into a golden): a 512-token prompt's prefill and 128
greedy decode steps after it, on 2 CPU threads, the median of 3 runs. Prints one JSON line.

    venv/bin/python tests/golden/model/bench_llamacpp.py

Same pinned environment as make.py (requirements.txt).
"""

import json
import statistics
import time

import numpy as np

import llama_cpp
from make import DISCHARGE, MODEL

PROMPT_TOKENS = 512
DECODE_TOKENS = 128
RUNS = 3
# As make.py, but only the last position's logits are computed, as in generation.
LLAMA = {"n_ctx": 2048, "n_batch": 512, "n_ubatch": 512, "n_threads": 2, "n_threads_batch": 2,
         "seed": 1234, "logits_all": False, "flash_attn": False, "n_gpu_layers": 0}


def prompt_ids(llm):
    """The first PROMPT_TOKENS ids of the fictional discharge summary, repeated."""
    ids = []
    while len(ids) < PROMPT_TOKENS:
        ids += llm.tokenize((DISCHARGE + "\n\n").encode("utf-8"), add_bos=False, special=False)
    return ids[:PROMPT_TOKENS]


def last_logits(llm):
    return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))


def run_once(llm, ids):
    """Seconds for the prefill and for the decode steps (each: one token evaluated, argmax)."""
    llm.reset()
    started = time.perf_counter()
    llm.eval(ids)
    best = int(np.argmax(last_logits(llm)))
    prefill = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(DECODE_TOKENS):
        llm.eval([best])
        best = int(np.argmax(last_logits(llm)))
    return prefill, time.perf_counter() - started


def main():
    llm = llama_cpp.Llama(model_path=str(MODEL), verbose=False, **LLAMA)
    ids = prompt_ids(llm)
    run_once(llm, ids[:32])  # warm-up: first-touch of the weights, thread start
    runs = [run_once(llm, ids) for _ in range(RUNS)]
    print(json.dumps({
        "engine": f"llama.cpp (llama-cpp-python {llama_cpp.__version__})",
        "model": MODEL.name,
        "n_threads": LLAMA["n_threads"],
        "prompt_tokens": PROMPT_TOKENS,
        "decode_tokens": DECODE_TOKENS,
        "runs": RUNS,
        "prefill_tok_s": round(statistics.median(PROMPT_TOKENS / p for p, _ in runs), 1),
        "decode_tok_s": round(statistics.median(DECODE_TOKENS / d for _, d in runs), 1),
    }))


if __name__ == "__main__":
    main()
