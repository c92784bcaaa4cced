"""Golden BERTScore values (bert-score 0.3.13) with all-MiniLM-L6-v2, for the Rust metric.

    python3.11 -m venv /root/.cache/bertscore-venv
    /root/.cache/bertscore-venv/bin/pip install -r tests/golden/bertscore/requirements.txt
    bash -c 'source scripts/lib.sh && ensure_bert_model'
    /root/.cache/bertscore-venv/bin/python tests/golden/bertscore/generate.py

Writes, next to this script, bertscore-minilm-L4.json and bertscore-minilm-L6.json (one per
layer L) and embeddings-sample.json. NOTES.md beside it says what bert_score computes.

Every score comes from bert_score.score(cands, refs, model_type=<absolute path of
models/all-MiniLM-L6-v2>, num_layers=L, idf=False, rescale_with_baseline=False, lang=None,
batch_size=64, device="cpu"), run on one CPU thread, rounded to 8 decimals.

MeQSum (first sheet of the xlsx, columns `CHQ` and `Summary`, every data row in order, the same
rows as tests/golden/rouge): candidate = Summary, reference = CHQ, scored in one call of 1,000
pairs. "inputs_sha256" is SHA-256 over CHQ + "\\0" + Summary + "\\0" of every row in order
(UTF-8); "cand_tokens"/"ref_tokens" are the token counts bert_score feeds the model ([CLS] and
[SEP] included, after truncation to 512).

"cases": hand-written edge cases with their strings, each scored in its own call (one pair,
so no padding inside a batch; see NOTES.md on why that can matter).

"check": the same MeQSum pairs recomputed here without batching (each sentence encoded alone,
hidden_states[L] of the full model, float64 greedy matching by the rules of NOTES.md), twice:
"exact", and "clamped" with bert_score's padding artefact (NOTES.md: a best match below 0
becomes 0 when the other sentence is shorter than the longest of its batch of 64 pairs). Both
largest absolute differences from bert_score are stored, and the rows the artefact changes
("padding_clamped_rows"). A Rust implementation should land as close as "clamped" does.

embeddings-sample.json: for two short sentences, the token ids and, at layers 4 and 6, the
first 8 dimensions of the first 3 token embeddings (the un-normalized output of layer L) and
each token's full L2 norm, for debugging the encoder.
"""

import hashlib
import importlib.metadata
import json
import pathlib
import platform

import openpyxl
import torch
import transformers
from transformers import AutoModel, AutoTokenizer

import bert_score
from bert_score.utils import bert_encode, get_model, get_tokenizer, sent_encode

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MODEL_DIR = ROOT / "models" / "all-MiniLM-L6-v2"
XLSX = ROOT / "data" / "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
LAYERS = [4, 6]
MODEL_FILES = ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "vocab.txt"]
SAMPLE_SENTENCES = ["Who manufactures cetirizine?", "How is shingles treated?"]

LONG = "The patient takes 81 mg of aspirin daily and asks about bleeding risk. " * 60
CASES = [
    ("empty candidate", "", "What is diabetes?"),
    ("whitespace-only candidate", " \n\t ", "What is diabetes?"),
    ("format characters only", "\u200b\u200b", "What is diabetes?"),
    ("empty reference", "What is diabetes?", ""),
    ("both empty", "", ""),
    ("identical", "How is shingles treated?", "How is shingles treated?"),
    ("case differs (uncased model)", "HOW IS SHINGLES TREATED?", "how is shingles treated?"),
    ("single token each", "aspirin", "Aspirin."),
    ("accents and unicode", "naïve café Straße İstanbul", "naive cafe strasse istanbul"),
    ("special-token text", "[SEP] aspirin [CLS] dose", "aspirin dose"),
    ("long reference (truncated)", "Is daily aspirin safe?", LONG),
    ("long candidate (truncated)", LONG, "Is daily aspirin safe?"),
]


def meqsum_pairs():
    sheet = openpyxl.load_workbook(XLSX, read_only=True).worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows))
    chq, summary = header.index("CHQ"), header.index("Summary")
    return [(row[chq], row[summary]) for row in rows if row[chq] is not None]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rounded(values):
    return [round(float(v), 8) for v in values]


def score(cands, refs, layer):
    p, r, f = bert_score.score(cands, refs, model_type=str(MODEL_DIR), num_layers=layer,
                               idf=False, rescale_with_baseline=False, lang=None,
                               batch_size=64, device="cpu")
    return p.tolist(), r.tolist(), f.tolist()


def unbatched(cands, refs, tokenizer, model):
    """Each sentence alone through the full model; hidden_states[L] per layer; float64 match.

    Returns per layer the exact scores and the scores with bert_score's padding clamp (a best
    match below 0 becomes 0 when the other side is shorter than the longest of its batch)."""
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    cache = {}

    def embed(sentence):
        if sentence not in cache:
            ids = sent_encode(tokenizer, sentence)
            with torch.no_grad():
                out = model(torch.tensor([ids]), output_hidden_states=True)
            cache[sentence] = (ids, {layer: out.hidden_states[layer][0].double()
                                     for layer in LAYERS})
        return cache[sentence]

    def mean_best(rows_ids, sim, padded):
        best = sim.max(dim=1).values
        best = best[torch.tensor([i not in special for i in rows_ids])]
        clamped = best.clamp(min=0) if padded else best
        return best.mean().item(), clamped.mean().item()

    def f1(p, r):
        return 2 * p * r / (p + r)

    lengths = [(len(embed(c)[0]), len(embed(r)[0])) for c, r in zip(cands, refs)]
    results = {layer: {"exact": ([], [], []), "clamped": ([], [], []), "rows": []}
               for layer in LAYERS}
    for index, (cand, ref) in enumerate(zip(cands, refs)):
        cand_ids, cand_emb = embed(cand)
        ref_ids, ref_emb = embed(ref)
        batch = lengths[index // 64 * 64:][:64]
        cand_padded = len(cand_ids) < max(c for c, _ in batch)
        ref_padded = len(ref_ids) < max(r for _, r in batch)
        for layer in LAYERS:
            if len(cand_ids) == 2 or len(ref_ids) == 2:
                for kind in ("exact", "clamped"):
                    for values in results[layer][kind]:
                        values.append(0.0)
                continue
            c = torch.nn.functional.normalize(cand_emb[layer], dim=-1)
            r = torch.nn.functional.normalize(ref_emb[layer], dim=-1)
            sim = c @ r.T
            p, p_clamped = mean_best(cand_ids, sim, ref_padded)
            rr, r_clamped = mean_best(ref_ids, sim.T, cand_padded)
            for kind, (pk, rk) in (("exact", (p, rr)), ("clamped", (p_clamped, r_clamped))):
                ps, rs, fs = results[layer][kind]
                ps.append(pk), rs.append(rk), fs.append(f1(pk, rk))
            if (p, rr) != (p_clamped, r_clamped):
                results[layer]["rows"].append(index)
    return results, cache


def embeddings_sample(tokenizer):
    sample = {"sentences": []}
    for sentence in SAMPLE_SENTENCES:
        ids = sent_encode(tokenizer, sentence)
        entry = {"text": sentence, "ids": ids,
                 "tokens": tokenizer.convert_ids_to_tokens(ids), "layers": {}}
        for layer in LAYERS:
            model = get_model(str(MODEL_DIR), layer)
            x = torch.tensor([ids])
            emb = bert_encode(model, x, attention_mask=torch.ones_like(x))[0]
            entry["layers"][str(layer)] = {
                "first3_dims8": [[round(float(v), 7) for v in row[:8]] for row in emb[:3]],
                "first3_norms": [round(float(row.norm()), 6) for row in emb[:3]],
            }
        sample["sentences"].append(entry)
    return sample


def main():
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    tokenizer = get_tokenizer(str(MODEL_DIR), use_fast=False)
    fast = AutoTokenizer.from_pretrained(MODEL_DIR, use_fast=True)
    pairs = meqsum_pairs()
    refs = [chq for chq, _ in pairs]
    cands = [summary for _, summary in pairs]
    digest = hashlib.sha256()
    for chq, summary in pairs:
        digest.update((chq + "\0" + summary + "\0").encode())

    texts = refs + cands + [t for _, c, r in CASES for t in (c, r)]
    fast_differs = [t for t in texts if sent_encode(tokenizer, t) != sent_encode(fast, t)]

    full_model = AutoModel.from_pretrained(MODEL_DIR).eval()
    reference, cache = unbatched(cands, refs, tokenizer, full_model)
    cand_tokens = [len(cache[c][0]) for c in cands]
    ref_tokens = [len(cache[r][0]) for r in refs]

    meta = {
        "python": platform.python_version(),
        # bert_score.__version__ still says 0.3.12 in the 0.3.13 release.
        "bert_score": importlib.metadata.version("bert-score"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "model": "sentence-transformers/all-MiniLM-L6-v2 (models/all-MiniLM-L6-v2)",
        "model_files_sha256": {name: sha256(MODEL_DIR / name) for name in MODEL_FILES},
        "settings": {"idf": False, "rescale_with_baseline": False, "lang": None,
                     "batch_size": 64, "device": "cpu", "use_fast_tokenizer": False,
                     "model_max_length": tokenizer.model_max_length},
        "candidate": "Summary",
        "reference": "CHQ",
        "fast_tokenizer_differs_on": fast_differs,
    }
    for layer in LAYERS:
        p, r, f = score(cands, refs, layer)
        cases = []
        for name, cand, ref in CASES:
            (cp,), (cr,), (cf,) = score([cand], [ref], layer)
            cases.append({"name": name, "candidate": cand, "reference": ref,
                          "P": round(cp, 8), "R": round(cr, 8), "F1": round(cf, 8)})
        check = {"padding_clamped_rows": reference[layer]["rows"]}
        for kind in ("exact", "clamped"):
            check[f"{kind}_max_abs_diff"] = max(
                abs(a - b) for ours, theirs in zip((p, r, f), reference[layer][kind])
                for a, b in zip(ours, theirs))
        golden = dict(meta, num_layers=layer, meqsum={
            "rows": len(pairs), "inputs_sha256": digest.hexdigest(),
            "P": rounded(p), "R": rounded(r), "F1": rounded(f),
            "cand_tokens": cand_tokens, "ref_tokens": ref_tokens,
        }, cases=cases, check=check)
        out = HERE / f"bertscore-minilm-L{layer}.json"
        out.write_text(json.dumps(golden, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{out.name}: mean F1 {sum(f) / len(f):.6f}, {check}")

    sample = dict(model=meta["model"], model_safetensors_sha256=meta["model_files_sha256"][
        "model.safetensors"], **embeddings_sample(tokenizer))
    (HERE / "embeddings-sample.json").write_text(json.dumps(sample, indent=1,
                                                            ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
