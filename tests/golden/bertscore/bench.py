"""Times bert_score on the pairs `clue bench bertscore` scores: the 1,000 MeQSum Summary/CHQ
pairs with all-MiniLM-L6-v2 at one layer, idf off, on the CPU. Prints one JSON line.

    /root/.cache/bertscore-venv/bin/python tests/golden/bertscore/bench.py [--layer 6] [--threads 2]
"""
import argparse
import json
import pathlib
import time

import openpyxl
import torch
from bert_score import score

ROOT = pathlib.Path(__file__).resolve().parents[3]
DATA = ROOT / "data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
MODEL = ROOT / "models/all-MiniLM-L6-v2"

parser = argparse.ArgumentParser()
parser.add_argument("--layer", type=int, default=6)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)

sheet = openpyxl.load_workbook(DATA, read_only=True).active
rows = list(sheet.iter_rows(values_only=True))
header = [str(h) for h in rows[0]]
chq, summary = header.index("CHQ"), header.index("Summary")
pairs = [(str(r[summary]), str(r[chq])) for r in rows[1:] if r[chq] is not None]
cands, refs = [p[0] for p in pairs], [p[1] for p in pairs]

started = time.perf_counter()
P, R, F = score(cands, refs, model_type=str(MODEL), num_layers=args.layer, idf=False,
                rescale_with_baseline=False, batch_size=64, device="cpu")
seconds = time.perf_counter() - started
print(json.dumps({"impl": "bert_score", "threads": args.threads, "layer": args.layer,
                  "pairs": len(cands), "seconds": seconds, "pairs_per_s": len(cands) / seconds,
                  "mean_f1": float(F.mean())}))
