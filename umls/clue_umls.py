#!/usr/bin/env python3
"""CLUE's UMLS-F1, computed by scispaCy, for the answers of a `clue eval` samples file.

CLUE's Problem Summary and MeDiSumQA tasks report UMLS-F1: the canonical UMLS names that
scispaCy's `en_core_sci_sm` + `scispacy_linker` find in the answer and in the reference,
compared as sets. This bridge reproduces that computation (see `umls_scores`) with the
linker's files read from a local directory only, and writes one JSON line per scored sample
after a fingerprint of everything that determines the numbers. See README.md.

Exit status: 0 on success, 2 on bad input or a missing file (one message, no traceback).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import inspect
import io
import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path

BRIDGE_VERSION = "clue-umls 1"
TASKS = ("probsum", "medisumqa")
# scispaCy's linker files besides the KB JSONL, as scispaCy's LinkerPaths names them.
LINKER_FILES = {
    "ann_index": "nmslib_index.bin",
    "tfidf_vectorizer": "tfidf_vectorizer.joblib",
    "tfidf_vectors": "tfidf_vectors_sparse.npz",
    "concept_aliases_list": "concept_aliases.json",
}
# An optional file: UmlsKnowledgeBase also loads this tree, which the linker never reads.
SEMANTIC_TYPE_TREE = "umls_semantic_type_tree.tsv"
VERSIONED_PACKAGES = (
    "spacy", "scispacy", "nmslib-metabrainz", "scikit-learn", "scipy", "numpy",
)


class BridgeError(Exception):
    """Bad input or a missing file: reported as one line, exit status 2."""


# --------------------------------------------------------------------------------------------
# The computation (CLUE's get_UMLS_entities / compute_UMLS_F1)
# --------------------------------------------------------------------------------------------


def umls_entities(nlp, linker, text: str) -> set[str]:
    """The canonical names of the top-linked concept of every entity that has a link."""
    doc = nlp(text)
    entities = set()
    for ent in doc.ents:
        if ent._.kb_ents:
            cui = ent._.kb_ents[0][0]
            entities.add(linker.kb.cui_to_entity[cui].canonical_name)
    return entities


def umls_scores(nlp, linker, prediction: str, reference: str):
    """(precision, recall, f1, prediction names, reference names) of one answer."""
    pred = umls_entities(nlp, linker, prediction)
    ref = umls_entities(nlp, linker, reference)
    precision = len(pred & ref) / len(pred) if len(pred) > 0 else 0
    recall = len(ref & pred) / len(ref) if len(ref) > 0 else 0
    if precision + recall == 0:
        f1 = 0
    else:
        f1 = 2 * (precision * recall) / (precision + recall)
    return precision, recall, f1, pred, ref


def reference_summary(summary: str, compat: bool) -> str:
    """Problem Summary's reference: as the Rust `reference_summary` (src/tasks/probsum.rs):
    one trailing `;` dropped unless compat, then every `;` replaced with `, `."""
    if not compat and summary.endswith(";"):
        summary = summary[:-1]
    return summary.replace(";", ", ")


# --------------------------------------------------------------------------------------------
# Offline, local linker files
# --------------------------------------------------------------------------------------------


def _refuse_remote(url_or_filename, cache_dir=None):
    """Replaces scispaCy's cached_path: only existing local files, never a download."""
    path = str(url_or_filename)
    if not os.path.isfile(path):
        raise BridgeError(
            f"scispaCy asked for {path!r}, which is not a local file; the bridge never "
            "downloads (is a file missing from --kb-dir?)"
        )
    return path


def go_offline() -> None:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[name] = "1"
    import scispacy.file_cache
    import scispacy.candidate_generation
    import scispacy.linking_utils
    import scispacy.umls_semantic_type_tree

    def no_download(url, cache_dir=None):
        raise BridgeError(f"scispaCy tried to download {url}; the bridge never downloads")

    scispacy.file_cache.get_from_cache = no_download
    for module in (
        scispacy.file_cache,
        scispacy.candidate_generation,
        scispacy.linking_utils,
        scispacy.umls_semantic_type_tree,
    ):
        module.cached_path = _refuse_remote


def kb_files(kb_dir: Path) -> dict[str, Path]:
    """The KB JSONL (`kb`) and the four linker files of kb_dir; an error names what is missing."""
    if not kb_dir.is_dir():
        raise BridgeError(f"--kb-dir {kb_dir}: not a directory")
    jsonl = sorted(p for p in kb_dir.glob("*.jsonl") if p.is_file())
    if not jsonl:
        raise BridgeError(f"--kb-dir {kb_dir}: missing KB file: no *.jsonl knowledge base")
    if len(jsonl) > 1:
        names = ", ".join(p.name for p in jsonl)
        raise BridgeError(f"--kb-dir {kb_dir}: more than one *.jsonl ({names}); keep one")
    files = {"kb": jsonl[0]}
    for key, name in LINKER_FILES.items():
        path = kb_dir / name
        if not path.is_file():
            raise BridgeError(f"--kb-dir {kb_dir}: missing KB file: {name}")
        files[key] = path
    tree = kb_dir / SEMANTIC_TYPE_TREE
    if tree.is_file():
        files["semantic_type_tree"] = tree
    return files


def install_local_umls(files: dict[str, Path]) -> None:
    """Makes scispaCy's `umls` linker name resolve to the local files."""
    from collections import defaultdict

    from scispacy import candidate_generation as cg
    from scispacy.linking_utils import Entity, KnowledgeBase
    from scispacy.umls_semantic_type_tree import construct_umls_tree_from_tsv

    cg.DEFAULT_PATHS["umls"] = cg.LinkerPaths(
        ann_index=str(files["ann_index"]),
        tfidf_vectorizer=str(files["tfidf_vectorizer"]),
        tfidf_vectors=str(files["tfidf_vectors"]),
        concept_aliases_list=str(files["concept_aliases_list"]),
    )
    kb_path = str(files["kb"])
    tree_path = files.get("semantic_type_tree")

    class LocalUmlsKnowledgeBase(KnowledgeBase):
        """scispaCy's KnowledgeBase.__init__ for a .jsonl file, reading it as UTF-8 (the
        original opens it in the locale's encoding) and naming the line of a bad concept."""

        def __init__(self, file_path: str = kb_path):
            alias_to_cuis = defaultdict(set)
            self.cui_to_entity = {}
            with open(_refuse_remote(file_path), encoding="utf-8") as f:
                for number, line in enumerate(f, start=1):
                    try:
                        concept = json.loads(line)
                        unique_aliases = set(concept["aliases"])
                        unique_aliases.add(concept["canonical_name"])
                        for alias in unique_aliases:
                            alias_to_cuis[alias].add(concept["concept_id"])
                        self.cui_to_entity[concept["concept_id"]] = Entity(**concept)
                    except (ValueError, KeyError, TypeError) as error:
                        what = f"no field {error}" if isinstance(error, KeyError) else error
                        raise BridgeError(
                            f"{file_path}, line {number}: not a scispaCy KB concept: {what}"
                        ) from None
            self.alias_to_cuis = {**alias_to_cuis}
            if tree_path is not None:
                self.semantic_type_tree = construct_umls_tree_from_tsv(str(tree_path))

    cg.DEFAULT_KNOWLEDGE_BASES["umls"] = LocalUmlsKnowledgeBase


def load_pipeline(pipeline: str, files: dict[str, Path]):
    """The spaCy pipeline with the linker added exactly as CLUE adds it; (nlp, linker)."""
    import spacy
    import scispacy.linking  # noqa: F401  (registers the scispacy_linker factory)

    go_offline()
    install_local_umls(files)
    try:
        nlp = spacy.load(pipeline)
    except (OSError, ValueError) as error:
        hint = ""
        if pipeline == "en_core_sci_sm":
            hint = " (install it with umls/setup --model PATH/en_core_sci_sm-0.5.4.tar.gz)"
        raise BridgeError(f"cannot load the spaCy pipeline {pipeline!r}{hint}: {error}") from None
    try:
        nlp.add_pipe(
            "scispacy_linker",
            config={"resolve_abbreviations": True, "linker_name": "umls"},
        )
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as error:
        raise BridgeError(f"cannot load the linker from the KB files: {error}") from None
    linker = nlp.get_pipe("scispacy_linker")
    return nlp, linker


# --------------------------------------------------------------------------------------------
# Fingerprint
# --------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def directory_sha256(directory: Path) -> str:
    """SHA-256 over a directory's files: for each regular file (recursively, `__pycache__`
    folders skipped), sorted by its relative POSIX path, the UTF-8 bytes of
    `PATH NUL HEX-SHA256-OF-FILE LF` are hashed together."""
    entries = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            path = Path(root) / name
            if path.is_file():
                entries.append((path.relative_to(directory).as_posix(), path))
    digest = hashlib.sha256()
    for relative, path in sorted(entries):
        digest.update(f"{relative}\0{file_sha256(path)}\n".encode("utf-8"))
    return digest.hexdigest()


def pipeline_directory(nlp, pipeline: str) -> Path | None:
    """The directory the pipeline was loaded from."""
    if Path(pipeline).is_dir():
        return Path(pipeline)
    import spacy.util

    try:
        package = spacy.util.get_package_path(pipeline)
    except Exception:  # noqa: BLE001 (a loaded pipeline that is not a package)
        return None
    meta = nlp.meta
    data = package / f"{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}"
    return data if data.is_dir() else package


def fingerprint(nlp, linker, pipeline: str, files: dict[str, Path]) -> dict:
    from scispacy.candidate_generation import CandidateGenerator
    from spacy.tokens import Doc

    directory = pipeline_directory(nlp, pipeline)
    meta = nlp.meta
    ef_search = inspect.signature(CandidateGenerator.__init__).parameters["ef_search"].default
    return {
        "bridge": BRIDGE_VERSION,
        "python": platform.python_version(),
        "packages": {name: metadata.version(name) for name in VERSIONED_PACKAGES},
        "pipeline": {
            "name": f"{meta.get('lang')}_{meta.get('name')}",
            "version": meta.get("version"),
            "sha256": directory_sha256(directory) if directory else None,
            "components": list(nlp.pipe_names),
        },
        "kb_files": [
            {"name": path.name, "sha256": file_sha256(path)}
            for path in sorted(files.values(), key=lambda p: p.name)
        ],
        "linker": {
            "linker_name": "umls",
            "k": linker.k,
            "threshold": linker.threshold,
            "no_definition_threshold": linker.no_definition_threshold,
            "filter_for_definitions": linker.filter_for_definitions,
            "max_entities_per_mention": linker.max_entities_per_mention,
            "resolve_abbreviations": linker.resolve_abbreviations,
            "abbreviation_detector": Doc.has_extension("abbreviations")
            or "abbreviation_detector" in nlp.pipe_names,
            "ef_search": ef_search,
        },
    }


# --------------------------------------------------------------------------------------------
# Input files
# --------------------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """A file as UTF-8 without a byte-order mark, as the Rust reader (src/data/text.rs) does;
    line breaks are kept as they are (the Rust reader does not rewrite `\\r\\n` either)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BridgeError(f"{path}: cannot read: {error.strerror or error}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = 1 + data[: error.start].count(b"\n")
        raise BridgeError(f"{path}, line {line}: not UTF-8 (byte {error.start})") from None


def read_samples(path: Path) -> list[dict]:
    """The probsum and medisumqa lines of a samples file: [{task, id, text, line}]."""
    samples = []
    seen = {}
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise BridgeError(f"{path}, line {number}: malformed JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise BridgeError(f"{path}, line {number}: not a JSON object")
        task = record.get("task")
        if task not in TASKS:
            if not isinstance(task, str):
                raise BridgeError(
                    f"{path}, line {number}: no task field; the bridge needs a clue samples file"
                )
            continue
        sample_id = record.get("id")
        if isinstance(sample_id, int) and not isinstance(sample_id, bool):
            sample_id = str(sample_id)
        if not isinstance(sample_id, str):
            raise BridgeError(f"{path}, line {number}: id must be text or an integer")
        answer = record.get("answer")
        text = answer.get("text") if isinstance(answer, dict) else None
        if not isinstance(text, str) or answer.get("kind") != "text":
            raise BridgeError(
                f"{path}, line {number}: {task} sample {sample_id!r} has no answer text; "
                "the bridge needs the answer field of a clue samples file"
            )
        key = (task, sample_id)
        if key in seen:
            raise BridgeError(
                f"{path}, line {number}: duplicate {task} id {sample_id!r} "
                f"(first at line {seen[key]})"
            )
        seen[key] = number
        samples.append({"task": task, "id": sample_id, "text": text, "line": number})
    return samples


def read_probsum(path: Path, compat: bool) -> dict[str, str]:
    """id (`File ID`) -> reference (the Summary after the `;` rewrite)."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = None
    references = {}
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if all(not field.strip() for field in record):
                continue
            if header is None:
                header = [name.strip() for name in record]
                missing = [n for n in ("File ID", "Summary") if n not in header]
                if missing:
                    raise BridgeError(
                        f"{path}, line {line}: no column {missing[0]!r} "
                        f"(found: {', '.join(header)})"
                    )
                id_column, summary_column = header.index("File ID"), header.index("Summary")
                continue
            if len(record) != len(header):
                raise BridgeError(
                    f"{path}, line {line}: {len(record)} fields, the header has {len(header)}"
                )
            sample_id, summary = record[id_column], record[summary_column]
            if not sample_id.strip():
                raise BridgeError(f"{path}, line {line}: empty File ID")
            if not summary.strip():
                raise BridgeError(f"{path}, line {line}: empty Summary")
            if sample_id in references:
                raise BridgeError(f"{path}, line {line}: duplicate File ID {sample_id!r}")
            references[sample_id] = reference_summary(summary, compat)
    except csv.Error as error:
        raise BridgeError(f"{path}, line {reader.line_num}: CSV: {error}") from None
    if not references:
        raise BridgeError(f"{path}: no examples")
    return references


def read_medisumqa(path: Path) -> dict[str, str]:
    """id (`id`, else the 0-based record index) -> reference (`Answer`)."""
    text = read_text(path)
    records = []  # (line, object)
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise BridgeError(f"{path}, line {error.lineno}: malformed JSON: {error.msg}") from None
        for index, value in enumerate(values):
            records.append((f"element {index + 1}", value))
    else:
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as error:
                raise BridgeError(f"{path}, line {number}: malformed JSON: {error.msg}") from None
    references = {}
    for index, (where, record) in enumerate(records):
        if not isinstance(record, dict):
            raise BridgeError(f"{path}, {where}: not a JSON object")
        sample_id = record.get("id", index)
        if isinstance(sample_id, int) and not isinstance(sample_id, bool):
            sample_id = str(sample_id)
        if not isinstance(sample_id, str):
            raise BridgeError(f"{path}, {where}: id must be text or an integer")
        answer = record.get("Answer")
        if not isinstance(answer, str):
            raise BridgeError(f"{path}, {where}: no text field 'Answer'")
        if sample_id in references:
            raise BridgeError(f"{path}, {where}: duplicate id {sample_id!r}")
        references[sample_id] = answer
    if not references:
        raise BridgeError(f"{path}: no examples")
    return references


def parse_data(values: list[str]) -> dict[str, Path]:
    data = {}
    for value in values:
        task, sep, file = value.partition("=")
        if not sep or not file:
            raise BridgeError(f"--data {value!r}: expected TASK=FILE")
        if task not in TASKS:
            raise BridgeError(f"--data {value!r}: the task must be one of {', '.join(TASKS)}")
        if task in data:
            raise BridgeError(f"--data {task}= given twice")
        data[task] = Path(file)
    return data


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def run(args) -> int:
    data = parse_data(args.data)
    samples = read_samples(Path(args.samples))
    references = {}
    for task in sorted({s["task"] for s in samples}):
        if task not in data:
            raise BridgeError(
                f"{args.samples} has {task} samples but no --data {task}=FILE was given"
            )
        if task == "probsum":
            references[task] = read_probsum(data[task], args.compat)
        else:
            references[task] = read_medisumqa(data[task])
    for sample in samples:
        if sample["id"] not in references[sample["task"]]:
            raise BridgeError(
                f"{args.samples}, line {sample['line']}: {sample['task']} id {sample['id']!r} "
                f"is not in {data[sample['task']]}"
            )
    files = kb_files(Path(args.kb_dir))
    nlp, linker = load_pipeline(args.pipeline, files)

    lines = [json.dumps({"fingerprint": fingerprint(nlp, linker, args.pipeline, files)},
                        ensure_ascii=False)]
    for sample in samples:
        reference = references[sample["task"]][sample["id"]]
        prediction = sample["text"]
        precision, recall, f1, pred, ref = umls_scores(nlp, linker, prediction, reference)
        lines.append(json.dumps({
            "task": sample["task"],
            "id": sample["id"],
            "prediction_sha256": hashlib.sha256(prediction.encode("utf-8")).hexdigest(),
            "reference_sha256": hashlib.sha256(reference.encode("utf-8")).hexdigest(),
            "prediction_entities": sorted(pred),
            "reference_entities": sorted(ref),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }, ensure_ascii=False))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="\n", dir=out.parent, prefix=f".{out.name}.", delete=False
    ) as f:
        f.write("\n".join(lines) + "\n")
    os.replace(f.name, out)
    counts = ", ".join(
        f"{task} {sum(s['task'] == task for s in samples)}" for task in TASKS
    )
    print(f"clue_umls: scored {len(samples)} samples ({counts}) -> {out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="clue_umls.py",
        description="CLUE's UMLS-F1 (scispaCy) for the probsum and medisumqa lines of a clue "
        "samples file.",
    )
    parser.add_argument("--samples", required=True, help="samples.jsonl written by clue eval")
    parser.add_argument("--data", action="append", default=[], metavar="TASK=FILE",
                        help="probsum=FILE.csv or medisumqa=FILE.json (repeatable)")
    parser.add_argument("--kb-dir", required=True,
                        help="directory with the KB *.jsonl and scispaCy's linker files")
    parser.add_argument("--out", required=True, help="output JSON Lines file")
    parser.add_argument("--pipeline", default="en_core_sci_sm",
                        help="spaCy pipeline: an installed package name or a directory "
                        "(default: en_core_sci_sm)")
    parser.add_argument("--compat", action="store_true",
                        help="keep Problem Summary's trailing ';' (becomes ', ') as the "
                        "reference code does")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except BridgeError as error:
        print(f"clue_umls: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
