"""A synthetic, made-up knowledge base and stand-in pipeline for testing the UMLS-F1 bridge.

Nothing here is UMLS content: the concept ids (C9xxxxxx), names and definitions are invented
and generated deterministically. The TF-IDF vectorizer and the nmslib index are built by
scispaCy 0.5.5's own `create_tfidf_ann_index(out_path, kb)`, with four small patches that
are needed in CLUE's pinned environment and change nothing about the index's content:

1. scispaCy refuses to run the builder when scipy >= 1.11 (`scipy_supports_sparse_float16()`
   is False with the pinned scipy 1.15.1): the check is bypassed;
2. scipy >= 1.11 refuses float16 sparse matrices in `astype`, which the builder uses to store
   the vectors as float16 (as the published linker files are): float16 is allowed in
   `scipy.sparse` for the duration of the build, and the fitted TF-IDF matrix is returned
   with sorted column indices (the same matrix; scipy 1.15 cannot sort a float16 one, which
   `astype` would otherwise try). Loading a float16 .npz works unpatched;
3. the builder asks nmslib for 60 indexing threads; a multi-threaded HNSW build is not
   reproducible, so `indexThreadQty` is forced to 1.

The build must run with a fixed PYTHONHASHSEED: scispaCy lists the aliases in the order of
Python sets of strings, which changes with the hash seed (`build_kb` checks this).

Afterwards the .npz (a zip file) is rewritten with fixed entry timestamps so that its SHA-256
is the same on every run (numpy stamps the current time into it); its arrays are unchanged.

`build(out_dir)` writes `kb/` (the linker files) and `pipeline/` (a blank English spaCy
pipeline whose `entity_ruler` marks the test mentions) under `out_dir`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import zipfile
from pathlib import Path

SEED = 20240611

# Made-up words: the first part of every generated name, and a clinical-sounding second part.
# Every word occurs in many names, so their character 3-grams pass the vectorizer's min_df=10.
PREFIXES = [
    "zorbic", "kelvory", "mirelle", "tandric", "vospal", "quenlar", "drovish", "pellomic",
    "saritic", "brunnal", "festoric", "gavrine", "holmatic", "jorvic", "lantric", "morvish",
    "nerolic", "ostrane", "plavic", "renthic",
]
SUFFIXES = [
    "fever", "syndrome", "disease", "palsy", "lesion", "edema", "neuritis", "anemia",
    "dermatitis", "colitis", "arthritis", "stenosis", "ulcer", "cyst", "nephropathy",
]
TYPES = ["T900", "T901", "T902"]

# Hand-placed concepts for the test cases (all names made up). `None` = no definition.
# The generated concept "P S" has the id C9000NNN; these use C91000NN.
SPECIAL = [
    # Two concepts whose aliases are the same words in swapped order: char_wb 3-grams ignore
    # word order, so every mention scores the same against both (a tie), both with definitions.
    # The larger CUI is listed first in the file, to show the file order does not decide.
    {"concept_id": "C9100002", "canonical_name": "grellic fever", "aliases": ["grellic fever"],
     "definition": "A made-up fever used to test ties (the larger id)."},
    {"concept_id": "C9100001", "canonical_name": "fever grellic", "aliases": ["fever grellic"],
     "definition": "A made-up fever used to test ties (the smaller id)."},
    # The same tie, but the smaller CUI has NO definition: at a score between 0.7 and 0.95 it is
    # filtered out, and the larger CUI (with a definition, same score) is kept.
    {"concept_id": "C9100011", "canonical_name": "edema vantric", "aliases": ["edema vantric"],
     "definition": None},
    {"concept_id": "C9100012", "canonical_name": "vantric edema", "aliases": ["vantric edema"],
     "definition": "A made-up swelling used to test the definition filter."},
    # Two CUIs sharing one canonical name, reached by different aliases.
    {"concept_id": "C9100021", "canonical_name": "sombral palsy",
     "aliases": ["sombral palsy", "sombral nerve palsy"],
     "definition": "A made-up palsy (first of two concepts with this name)."},
    {"concept_id": "C9100022", "canonical_name": "sombral palsy",
     "aliases": ["sombral palsy of childhood", "palsy of sombral"],
     "definition": "A made-up palsy (second of two concepts with this name)."},
    # A concept with several aliases: different mentions link to the same name.
    {"concept_id": "C9100031", "canonical_name": "tessic colitis",
     "aliases": ["tessic colitis", "colitis of tessa", "tessic bowel inflammation"],
     "definition": "A made-up inflammation of the bowel."},
]


def concepts() -> list[dict]:
    """The knowledge base's concepts, in file order (deterministic)."""
    rng = random.Random(SEED)
    out = []
    number = 0
    for prefix in PREFIXES:
        for suffix in SUFFIXES:
            number += 1
            name = f"{prefix} {suffix}"
            aliases = [name]
            if rng.random() < 0.4:
                aliases.append(f"{suffix} of {prefix}")
            if rng.random() < 0.2:
                aliases.append(f"{prefix} type {suffix}")
            concept = {
                "concept_id": f"C9{number:06d}",
                "canonical_name": name,
                "aliases": aliases,
                "types": [rng.choice(TYPES)],
            }
            if rng.random() < 0.5:
                concept["definition"] = f"A made-up {suffix} named after {prefix} (test only)."
            out.append(concept)
    rng.shuffle(out)
    for special in SPECIAL:
        concept = {
            "concept_id": special["concept_id"],
            "canonical_name": special["canonical_name"],
            "aliases": special["aliases"],
            "types": ["T900"],
        }
        if special["definition"] is not None:
            concept["definition"] = special["definition"]
        out.append(concept)
    return out


def concept(cui: str) -> dict:
    for c in concepts():
        if c["concept_id"] == cui:
            return c
    raise KeyError(cui)


def write_kb_jsonl(path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for c in concepts():
            f.write(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n")


@contextlib.contextmanager
def _patched_builder():
    """The patches described in the module docstring, undone afterwards."""
    import numpy
    import scipy.sparse._sputils as sputils
    from scispacy import candidate_generation as cg

    original_check = cg.scipy_supports_sparse_float16
    original_nmslib = cg.nmslib
    added_float16 = numpy.float16 not in sputils.supported_dtypes

    class _SingleThreadIndex:
        def __init__(self, index):
            self._index = index

        def createIndex(self, params, **kwargs):  # noqa: N802 (nmslib's name)
            params = dict(params)
            params["indexThreadQty"] = 1
            return self._index.createIndex(params, **kwargs)

        def __getattr__(self, name):
            return getattr(self._index, name)

    class _Nmslib:
        def __getattr__(self, name):
            return getattr(original_nmslib, name)

        def init(self, *args, **kwargs):
            return _SingleThreadIndex(original_nmslib.init(*args, **kwargs))

    original_fit_transform = cg.TfidfVectorizer.fit_transform

    def fit_transform(self, raw_documents, y=None):
        return original_fit_transform(self, raw_documents, y).sorted_indices()

    cg.scipy_supports_sparse_float16 = lambda: True
    cg.nmslib = _Nmslib()
    cg.TfidfVectorizer.fit_transform = fit_transform
    if added_float16:
        sputils.supported_dtypes.append(numpy.float16)
    try:
        yield cg
    finally:
        cg.scipy_supports_sparse_float16 = original_check
        cg.nmslib = original_nmslib
        cg.TfidfVectorizer.fit_transform = original_fit_transform
        if added_float16:
            sputils.supported_dtypes.remove(numpy.float16)


def _fix_zip_timestamps(path: Path) -> None:
    """Rewrites a zip (an .npz) with every entry stamped 1980-01-01, contents unchanged."""
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info.filename)) for info in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            target.writestr(fixed, data)
    path.write_bytes(buffer.getvalue())


def build_kb(kb_dir: Path) -> None:
    """Writes the KB JSONL and scispaCy's four linker files into kb_dir."""
    from scispacy.linking_utils import KnowledgeBase

    if os.environ.get("PYTHONHASHSEED") in (None, "random"):
        raise RuntimeError("build the test KB with a fixed PYTHONHASHSEED (e.g. 0)")
    kb_dir.mkdir(parents=True, exist_ok=True)
    jsonl = kb_dir / "test_kb.jsonl"
    write_kb_jsonl(jsonl)
    kb = KnowledgeBase(str(jsonl))
    with _patched_builder() as cg, contextlib.redirect_stdout(io.StringIO()):
        cg.create_tfidf_ann_index(str(kb_dir), kb)
    _fix_zip_timestamps(kb_dir / "tfidf_vectors_sparse.npz")


def build_pipeline(pipeline_dir: Path, mentions: list[str]) -> None:
    """A blank English pipeline whose entity_ruler marks each mention (case-sensitive)."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ENTITY", "pattern": m} for m in sorted(set(mentions))])
    nlp.meta["name"] = "clue_umls_test_ruler"
    nlp.meta["version"] = "0.0.1"
    nlp.to_disk(pipeline_dir)


def build(out_dir: Path, mentions: list[str]) -> tuple[Path, Path]:
    kb_dir = out_dir / "kb"
    pipeline_dir = out_dir / "pipeline"
    build_kb(kb_dir)
    build_pipeline(pipeline_dir, mentions)
    return kb_dir, pipeline_dir


if __name__ == "__main__":
    # make_test_kb.py OUT_DIR [MENTION ...]: writes OUT_DIR/kb and OUT_DIR/pipeline.
    # Run with a fixed PYTHONHASHSEED (the test uses 0).
    import sys

    if len(sys.argv) < 2:
        sys.exit("usage: PYTHONHASHSEED=0 make_test_kb.py OUT_DIR [MENTION ...]")
    kb, pipeline = build(Path(sys.argv[1]), sys.argv[2:])
    print(f"wrote {kb} and {pipeline}")
