"""Pairs per second of Google's rouge_score 0.1.2 on MeQSum, the baseline for `clue bench rouge`.

Scores the 1,000 (Summary, CHQ) pairs of the MeQSum xlsx with rouge1, rouge2, rougeL and
rougeLsum (use_stemmer=False), as the CLUE reference does, repeating the pass until at least
two seconds have elapsed, and prints one JSON line. Requirements: the pinned
tests/golden/rouge/requirements.txt.

    python scripts/bench_rouge.py [path/to/MeQSum.xlsx]
"""

import json
import pathlib
import sys
import time

import openpyxl
from rouge_score import rouge_scorer

DEFAULT_XLSX = (
    pathlib.Path(__file__).resolve().parents[1]
    / "data"
    / "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
)
MIN_SECONDS = 2.0


def meqsum_pairs(path):
    """(Summary, CHQ) of every row of the first sheet, by header name."""
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows))
    chq, summary = header.index("CHQ"), header.index("Summary")
    return [(row[summary], row[chq]) for row in rows if row[chq] is not None]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_XLSX
    pairs = meqsum_pairs(path)
    scorer = rouge_scorer.RougeScorer(
        ["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False
    )
    scored = 0
    start = time.perf_counter()
    while True:
        for prediction, target in pairs:
            scorer.score(target, prediction)
        scored += len(pairs)
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            break
    print(json.dumps({"impl": "rouge_score 0.1.2", "pairs": scored, "seconds": elapsed,
                      "pairs_per_s": scored / elapsed}))


if __name__ == "__main__":
    main()
