"""Builds src/metrics/icd10cm-names.tsv.gz, the open vocabulary of the Concept-F1 substitute.

Input: data/icd10cm-codes.json.gz (code without dot -> [billable, description]; see
make_table.py). Output: the 3-character categories and 4-character subcategories with their
descriptions, `CODE<TAB>DESCRIPTION` per line in code order, gzip with a fixed header (mtime 0,
no file name) so that it is reproducible. Those two levels name conditions the way a problem list
or an answer does ("Type 2 diabetes mellitus", "Epidermal cyst"); the longer codes add
laterality, encounter and detail that no summary spells out, and would quintuple what the
WebAssembly bundle carries (128 kB as it is). The ICD-10-CM code set is the U.S. government's
(CDC/NCHS), in the public domain, so it may be redistributed; see data/README.md.

Usage (from the crate root): python3 scripts/icd10_table/make_names.py
"""

import gzip
import io
import json
import pathlib

CRATE = pathlib.Path(__file__).resolve().parents[2]
SOURCE = CRATE / "data" / "icd10cm-codes.json.gz"
TARGET = CRATE / "src" / "metrics" / "icd10cm-names.tsv.gz"


def main():
    table = json.loads(gzip.decompress(SOURCE.read_bytes()))
    lines = []
    for code in sorted(table):
        if len(code) not in (3, 4):
            continue
        description = table[code][1]
        if "\t" in description or "\n" in description:
            raise SystemExit(f"{code}: its description holds a tab or a newline")
        lines.append(f"{code}\t{description}\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as out:
        out.write("".join(lines).encode("utf-8"))
    TARGET.write_bytes(buffer.getvalue())
    print(f"{TARGET.relative_to(CRATE)}: {len(lines)} names, {len(buffer.getvalue())} bytes")


if __name__ == "__main__":
    main()
