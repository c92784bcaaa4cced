"""Golden values for src/metrics/rouge.rs from Google's rouge_score 0.1.2.

    python3.11 -m venv venv && venv/bin/pip install -r tests/golden/rouge/requirements.txt
    venv/bin/python tests/golden/rouge/make.py > tests/golden/rouge/golden.json

Every pair is scored with RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"],
use_stemmer=False).score(target=reference, prediction=prediction) and stored as 12 floats:
precision, recall, F-measure of rouge1, rouge2, rougeL, rougeLsum, in that order.

MeQSum (first sheet of the xlsx, columns `CHQ` and `Summary`, every data row in order):
  - "full": prediction = Summary, reference = CHQ;
  - "first_sentence": prediction = Summary, reference = the first sentence of CHQ, which is
    CHQ up to and including the first '.', '?' or '!' that is directly followed by a space,
    tab or newline, or all of CHQ when there is none.
Each row also stores "inputs": the first 16 hex digits of SHA-256 over CHQ + "\\0" + Summary
(UTF-8), so the Rust test can check that its xlsx reader sees the same strings.

"cases": hand-written edge cases and seeded random multi-line pairs, with their strings.
"ascii_lowering": the non-ASCII code points whose str.lower() contains an ASCII letter or digit.
"""

import hashlib
import json
import pathlib
import platform
import random
import re
import sys

import openpyxl
from rouge_score import rouge_scorer

XLSX = (pathlib.Path(__file__).resolve().parents[3] / "data"
        / "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx")
SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False)
FIRST_SENTENCE_END = re.compile(r"[.?!][ \t\n]")


def scores(prediction, reference):
    result = SCORER.score(reference, prediction)
    return [float(getattr(result[kind], field))
            for kind in ["rouge1", "rouge2", "rougeL", "rougeLsum"]
            for field in ["precision", "recall", "fmeasure"]]


def first_sentence(text):
    end = FIRST_SENTENCE_END.search(text)
    return text[: end.start() + 1] if end else text


def meqsum_rows():
    sheet = openpyxl.load_workbook(XLSX, read_only=True).worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows))
    chq, summary = header.index("CHQ"), header.index("Summary")
    return [(row[chq], row[summary]) for row in rows if row[chq] is not None]


EDGE_CASES = [
    ("both empty", "", ""),
    ("empty prediction", "", "What is diabetes?"),
    ("empty reference", "What is diabetes?", ""),
    ("punctuation only", "?!... --- ,,;", "(( ** ))"),
    ("punctuation against words", "!!!", "some words here"),
    ("identical", "How is shingles treated?", "How is shingles treated?"),
    ("case and punctuation differ", "HOW is-shingles TREATED", "how is shingles treated?!"),
    ("repeated n-grams", "the the the the cat cat", "the cat the cat the dog"),
    ("single token each", "aspirin", "Aspirin."),
    ("digits and mixed", "COVID-19 vaccine 2nd dose, 10mg x2",
     "covid 19 vaccine: second dose 10 mg x2"),
    ("unicode lower case", "İstanbul \u212aELVIN Straße STRASSE ẞ naïve café",
     "istanbul kelvin strasse naive cafe i\u0307stanbul"),
    ("greek and final sigma", "ΣΊΣΥΦΟΣ ΟΔΟΣ abc", "σίσυφος οδός ABC"),
    ("non-ascii digits and spaces", "٣ ² 3\u00a0dose\u2003x", "3 dose x"),
    ("multi-line rougeLsum", "a b c\nd e f\n\ng h", "a c\nf e d\nh g b"),
    ("windows line ends", "first line here\r\nsecond line there\r\n",
     "first line\r\nthere second\r\nhere"),
    ("blank and symbol-only lines", "  \n \n??\nreal words\n", "words real\n\n-\n"),
    ("many repeated lines", "a a b\na b a\nb b a", "a b\nb a\na a\nb"),
    ("tie-breaking in backtrack", "x y z\ny x z x", "x y x z y\nz x y"),
]


def random_cases(name, count, seed, max_lines, max_line_tokens):
    """Multi-line pairs over a small vocabulary, so that LCS ties and repeated tokens abound."""
    rng = random.Random(seed)
    vocabulary = ["a", "b", "c", "d", "Ab", "B.", "c?", "e-f", "1", "\u212a"]

    def text():
        lines = []
        for _ in range(rng.randint(0, max_lines)):
            tokens = rng.randint(0, max_line_tokens)
            lines.append(" ".join(rng.choice(vocabulary) for _ in range(tokens)))
        return "\n".join(lines)

    return [(f"{name} {i}", text(), text()) for i in range(count)]


def main():
    ascii_lowering = [cp for cp in range(0x80, 0x110000)
                      if not 0xD800 <= cp <= 0xDFFF
                      and any(c.isascii() and c.isalnum() for c in chr(cp).lower())]
    meqsum = []
    for index, (chq, summary) in enumerate(meqsum_rows()):
        digest = hashlib.sha256((chq + "\0" + summary).encode()).hexdigest()[:16]
        meqsum.append({
            "row": index,
            "inputs": digest,
            "full": scores(summary, chq),
            "first_sentence": scores(summary, first_sentence(chq)),
        })
    cases = [{"name": name, "prediction": prediction, "reference": reference,
              "scores": scores(prediction, reference)}
             for name, prediction, reference in (
                 EDGE_CASES
                 + random_cases("random", 200, 2024, max_lines=5, max_line_tokens=9)
                 # Lines longer than 64 tokens take several words per bit-parallel LCS row.
                 + random_cases("random long", 12, 2025, max_lines=3, max_line_tokens=150))]
    out = {
        "python": platform.python_version(),
        "rouge_score": "0.1.2",
        "ascii_lowering": ascii_lowering,
        "cases": cases,
        "meqsum": meqsum,
    }
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
