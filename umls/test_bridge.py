#!/usr/bin/env python3
"""Tests of the UMLS-F1 bridge (clue_umls.py) on a synthetic KB and a stand-in pipeline.

    umls/test [--bless]        (or: VENV_PYTHON umls/test_bridge.py [--bless])

The real en_core_sci_sm model and the UMLS KB are not available here: the KB is made up
(make_test_kb.py) and an entity_ruler stands in for the NER. Every case below is checked three
ways: against a literal mirror of CLUE's get_UMLS_entities / compute_UMLS_F1 (exact ==),
against hand-written expectations, and against the golden files in tests/golden/umls/
(rewritten with --bless). The last line is `N passed, N failed`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GOLDEN = REPO / "tests" / "golden" / "umls"
sys.path.insert(0, str(HERE))

import clue_umls  # noqa: E402

PINS = {
    "spacy": "3.7.4", "scispacy": "0.5.5", "nmslib-metabrainz": "2.1.3",
    "scikit-learn": "1.6.1", "scipy": "1.15.1", "numpy": "1.26.4",
}

# --------------------------------------------------------------------------------------------
# The test data (all made up). `expect`: prediction names, reference names, P, R, F1.
# --------------------------------------------------------------------------------------------

# Problem Summary: the paper profile takes the first 3 rows of the file as few-shot examples.
PROBSUM_SHOTS = [
    {"id": "shot-1", "subjectives": "Patient reports mild cough.", "objectives": "T 37.0",
     "assessment": "Improving.", "summary": "cough;fatigue"},
    {"id": "shot-2", "subjectives": "Feels tired.", "objectives": "HR 80",
     "assessment": "Stable.", "summary": "fatigue"},
    {"id": "shot-3", "subjectives": "No complaints.", "objectives": "BP 120/80",
     "assessment": "Unchanged.", "summary": "routine follow up;"},
]
PROBSUM_CASES = [
    {   # Names, not CUIs: two aliases of one concept count once; two CUIs with the same
        # canonical name ("sombral palsy": C9100021 and C9100022) count once and match.
        "id": "ps-names",
        "prediction": "tessic colitis, colitis of tessa, sombral nerve palsy, palsy of sombral",
        "summary": "tessic bowel inflammation;palsy of sombral;zorbic edema",
        "expect": ({"tessic colitis", "sombral palsy"},
                   {"tessic colitis", "sombral palsy", "zorbic edema"}, 1.0, 2 / 3, 0.8),
    },
    {   # The `;` -> `, ` rewrite: unrewritten, "edema;kelvory" is one token and nothing links.
        # The trailing `;` is dropped first (Rust default; --compat keeps it as ", ").
        "id": "ps-semicolon",
        "prediction": "zorbic edema, kelvory cyst",
        "summary": "zorbic edema;kelvory cyst;",
        "expect": ({"zorbic edema", "kelvory cyst"}, {"zorbic edema", "kelvory cyst"},
                   1.0, 1.0, 1.0),
    },
    {   # No entity on either side: 0, not 1.
        "id": "ps-empty",
        "prediction": "No active problems today.",
        "summary": "Stable overall",
        "expect": (set(), set(), 0, 0, 0),
    },
    {   # "vantric" scores 0.69 (< 0.7): no link; "xyzzy" has no known 3-gram: no candidate.
        # Entities without a link contribute nothing.
        "id": "ps-threshold",
        "prediction": "vantric, xyzzy and vantric edemas",
        "summary": "vantric edemas;grellic fever",
        "expect": ({"vantric edema"}, {"vantric edema", "fever grellic"}, 1.0, 0.5, 2 / 3),
    },
    {   # "zorbic fevers" -> zorbic fever (no definition, but 0.966 >= 0.95: kept);
        # "kelvory lung" -> kelvory cyst (0.818, with a definition).
        "id": "ps-partial",
        "prediction": "zorbic fevers, kelvory lung, plavic anemia",
        "summary": "zorbic fever;renthic ulcer;kelvory cyst",
        "expect": ({"zorbic fever", "kelvory cyst", "plavic anemia"},
                   {"zorbic fever", "renthic ulcer", "kelvory cyst"}, 2 / 3, 2 / 3, 2 / 3),
    },
]

# MeDiSumQA: the paper profile shuffles the records with random.seed(1) and takes the first
# one as the few-shot example; `medisumqa_records` places the shot where the shuffle picks it.
MEDISUMQA_SHOT = {
    "id": "shot-1", "letter": "Dear patient, you stayed two days for a cough. It is better now.",
    "question": "Why was I in hospital?", "answer": "You had a cough that is better now.",
}
MEDISUMQA_CASES = [
    {   # A tie: "grellic fever" (C9100002) and "fever grellic" (C9100001) are the same 3-grams
        # in another order, so any mention scores the same for both; the smaller CUI wins,
        # even for the mention spelled exactly as C9100002's name.
        "id": "mq-tie",
        "prediction": "Your grellic fever has settled.",
        "answer": "You were treated for fever grellic.",
        "letter": "Dear patient, you came in with a fever. It has settled.",
        "question": "What was I treated for?",
        "expect": ({"fever grellic"}, {"fever grellic"}, 1.0, 1.0, 1.0),
    },
    {   # Definition filter: "vantric edemas" scores 0.946 for both C9100011 (no definition,
        # filtered below 0.95) and C9100012 (definition, kept). The exact "vantric edema"
        # scores 1.0 for both, so C9100011 is kept and wins the tie: the names differ.
        "id": "mq-definition",
        "prediction": "The vantric edemas improved.",
        "answer": "The swelling (vantric edema) went down.",
        "letter": "Dear patient, your legs were swollen. The swelling went down.",
        "question": "What happened to the swelling?",
        "expect": ({"vantric edema"}, {"edema vantric"}, 0, 0, 0),
    },
    {   # An entity without a link ("xyzzy") contributes nothing.
        "id": "mq-nolink",
        "prediction": "Take xyzzy tablets for the zorbic edema.",
        "answer": "Continue xyzzy and watch the zorbic edema.",
        "letter": "Dear patient, we treated a swelling. Please keep taking your tablets.",
        "question": "What should I keep doing?",
        "expect": ({"zorbic edema"}, {"zorbic edema"}, 1.0, 1.0, 1.0),
    },
    {   # No entity on either side: 0.
        "id": "mq-empty",
        "prediction": "Rest at home.",
        "answer": "Please rest.",
        "letter": "Dear patient, you are well enough to go home.",
        "question": "What should I do now?",
        "expect": (set(), set(), 0, 0, 0),
    },
    {   # Entities only in the prediction: P = 0 (nothing matches), R = 0 (empty reference).
        "id": "mq-noref",
        "prediction": "You had zorbic edema.",
        "answer": "Nothing else to add.",
        "letter": "Dear patient, there is nothing else to report.",
        "question": "Is there anything else?",
        "expect": ({"zorbic edema"}, set(), 0, 0, 0),
    },
    {
        "id": "mq-partial",
        "prediction": "You had kelvory lung and zorbic fevers.",
        "answer": "You were treated for kelvory cyst.",
        "letter": "Dear patient, you were treated for a cyst. Your fever went away.",
        "question": "What was I treated for?",
        "expect": ({"kelvory cyst", "zorbic fever"}, {"kelvory cyst"}, 0.5, 1.0, 2 / 3),
    },
]

# What the entity_ruler marks (case-sensitive; the longest match wins).
MENTIONS = [
    "tessic colitis", "colitis of tessa", "tessic bowel inflammation", "sombral nerve palsy",
    "palsy of sombral", "zorbic edema", "kelvory cyst", "kelvory lung", "vantric",
    "vantric edema", "vantric edemas", "xyzzy", "grellic fever", "fever grellic",
    "grellic fevers", "zorbic fever", "zorbic fevers", "renthic ulcer", "plavic anemia",
]


def medisumqa_records() -> list[dict]:
    """The cases in order, with the shot inserted where random.seed(1); shuffle() puts it
    first (as the Rust PyRandom does)."""
    order = list(range(len(MEDISUMQA_CASES) + 1))
    random.seed(1)
    random.shuffle(order)
    shot_position = order[0]
    rows = [dict(case) for case in MEDISUMQA_CASES]
    rows.insert(shot_position, dict(MEDISUMQA_SHOT))
    return [
        {"id": r["id"], "without_discharge_summary": r["letter"], "Question": r["question"],
         "Answer": r["answer"]}
        for r in rows
    ]


def probsum_csv() -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["File ID", "Subjectives", "Objectives", "Assessment", "Summary"])
    for row in PROBSUM_SHOTS + [
        {"id": c["id"], "subjectives": f"Follow-up visit for note {c['id']}.",
         "objectives": "Vitals within normal limits.", "assessment": "See the problem list.",
         "summary": c["summary"]}
        for c in PROBSUM_CASES
    ]:
        writer.writerow([row["id"], row["subjectives"], row["objectives"], row["assessment"],
                         row["summary"]])
    return buffer.getvalue()


def samples_jsonl() -> str:
    lines = []
    for task, cases in (("probsum", PROBSUM_CASES), ("medisumqa", MEDISUMQA_CASES)):
        for c in cases:
            lines.append(json.dumps({
                "task": task, "id": c["id"], "prediction": c["prediction"],
                "answer": {"kind": "text", "text": c["prediction"]},
            }, ensure_ascii=False))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# CLUE's computation, literally (written from its description, independent of the bridge)
# --------------------------------------------------------------------------------------------


class ClueMirror:
    def __init__(self, pipeline_dir: Path, kb_dir: Path):
        # Only to make the "umls" linker name resolve to the local test files:
        clue_umls.go_offline()
        clue_umls.install_local_umls(clue_umls.kb_files(kb_dir))
        import spacy
        from scispacy.linking import EntityLinker  # noqa: F401

        nlp = spacy.load(str(pipeline_dir))
        nlp.add_pipe("scispacy_linker",
                     config={"resolve_abbreviations": True, "linker_name": "umls"})
        self.nlp = nlp
        self.linker = nlp.get_pipe("scispacy_linker")

    def get_UMLS_entities(self, text):  # noqa: N802 (CLUE's name)
        doc = self.nlp(text)
        entities = set()
        for ent in doc.ents:
            if ent._.kb_ents:
                umls_ent = ent._.kb_ents[0]
                entities.add(self.linker.kb.cui_to_entity[umls_ent[0]].canonical_name)
        return entities

    def compute_UMLS_F1(self, model_output, label):  # noqa: N802 (CLUE's name)
        pred = self.get_UMLS_entities(model_output)
        ref = self.get_UMLS_entities(label)
        P = len(pred & ref) / len(pred) if len(pred) > 0 else 0
        R = len(ref & pred) / len(ref) if len(ref) > 0 else 0
        F = 2 * P * R / (P + R) if P + R > 0 else 0
        return P, R, F, pred, ref


def probsum_reference(summary: str, compat: bool = False) -> str:
    if not compat and summary[-1:] == ";":
        summary = summary[:-1]
    return summary.replace(";", ", ")


# --------------------------------------------------------------------------------------------
# Harness
# --------------------------------------------------------------------------------------------


class Context:
    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.data.mkdir()
        (self.data / "probsum.csv").write_text(probsum_csv(), encoding="utf-8", newline="")
        (self.data / "medisumqa.json").write_text(
            json.dumps(medisumqa_records(), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8", newline="")
        (self.data / "samples.jsonl").write_text(samples_jsonl(), encoding="utf-8", newline="")
        env = dict(os.environ, PYTHONHASHSEED="0")
        built = subprocess.run(
            [sys.executable, str(HERE / "make_test_kb.py"), str(root / "build"), *MENTIONS],
            env=env, capture_output=True, text=True)
        if built.returncode != 0:
            raise RuntimeError(f"make_test_kb.py failed:\n{built.stdout}\n{built.stderr}")
        self.kb = root / "build" / "kb"
        self.pipeline = root / "build" / "pipeline"
        self.mirror = ClueMirror(self.pipeline, self.kb)
        self.out = root / "umls.jsonl"
        result = self.bridge(out=self.out)
        if result.returncode != 0:
            raise RuntimeError(f"the bridge failed:\n{result.stderr}")
        self.lines = [json.loads(x) for x in self.out.read_text(encoding="utf-8").splitlines()]

    def bridge(self, *extra, samples=None, data=None, kb=None, out=None):
        data = data or [f"probsum={self.data / 'probsum.csv'}",
                        f"medisumqa={self.data / 'medisumqa.json'}"]
        args = [sys.executable, str(HERE / "clue_umls.py"),
                "--samples", str(samples or self.data / "samples.jsonl"),
                "--kb-dir", str(kb or self.kb), "--pipeline", str(self.pipeline),
                "--out", str(out or self.root / "scratch.jsonl")]
        for d in data:
            args += ["--data", d]
        return subprocess.run(args + list(extra), capture_output=True, text=True)


TESTS = []


def test(function):
    TESTS.append(function)
    return function


def cases():
    for c in PROBSUM_CASES:
        yield "probsum", c, probsum_reference(c["summary"])
    for c in MEDISUMQA_CASES:
        yield "medisumqa", c, c["answer"]


@test
def linker_settings_are_scispacy_defaults(ctx):
    import inspect

    from scispacy.linking import EntityLinker
    from spacy.tokens import Doc

    defaults = {name: p.default for name, p in
                inspect.signature(EntityLinker.__init__).parameters.items()}
    expected = {"k": 30, "threshold": 0.7, "no_definition_threshold": 0.95,
                "filter_for_definitions": True, "max_entities_per_mention": 5,
                "resolve_abbreviations": True}
    for name, value in expected.items():
        assert defaults[name] == value, (name, defaults[name])
        assert getattr(ctx.mirror.linker, name) == value, name
        assert ctx.lines[0]["fingerprint"]["linker"][name] == value, name
    assert not Doc.has_extension("abbreviations")
    assert ctx.lines[0]["fingerprint"]["linker"]["abbreviation_detector"] is False


@test
def fingerprint_names_versions_pipeline_and_kb(ctx):
    fp = ctx.lines[0]["fingerprint"]
    assert list(ctx.lines[0]) == ["fingerprint"]
    assert fp["bridge"] == "clue-umls 1"
    assert fp["python"].startswith("3.12."), fp["python"]
    assert fp["packages"] == PINS, fp["packages"]
    assert fp["pipeline"]["name"] == "en_clue_umls_test_ruler"
    assert fp["pipeline"]["version"] == "0.0.1"
    assert fp["pipeline"]["components"] == ["entity_ruler", "scispacy_linker"]
    assert fp["pipeline"]["sha256"] == clue_umls.directory_sha256(ctx.pipeline)
    names = [f["name"] for f in fp["kb_files"]]
    assert names == sorted(["test_kb.jsonl", "nmslib_index.bin", "tfidf_vectorizer.joblib",
                            "tfidf_vectors_sparse.npz", "concept_aliases.json"]), names
    for f in fp["kb_files"]:
        assert f["sha256"] == clue_umls.file_sha256(ctx.kb / f["name"])


@test
def candidate_scores_behind_the_cases(ctx):
    linker = ctx.mirror.linker
    kb = linker.kb

    def scores(mention):
        [candidates] = linker.candidate_generator([mention], linker.k)
        return {c.concept_id: max(c.similarities) for c in candidates}

    def kb_ents(mention):
        doc = ctx.mirror.nlp(mention)
        [ent] = doc.ents
        return ent._.kb_ents

    # Below the threshold: best score < 0.7, no link.
    best = max(scores("vantric").values())
    assert best < 0.7, best
    assert kb_ents("vantric") == []
    # No 3-gram in the vectorizer's vocabulary: no candidate at all.
    assert scores("xyzzy") == {}
    assert kb_ents("xyzzy") == []
    # Definition filter: the same score for both, between 0.7 and 0.95.
    s = scores("vantric edemas")
    assert s["C9100011"] == s["C9100012"] and 0.7 < s["C9100011"] < 0.95, s
    assert kb.cui_to_entity["C9100011"].definition is None
    assert kb.cui_to_entity["C9100012"].definition is not None
    assert [c for c, _ in kb_ents("vantric edemas")] == ["C9100012"]
    # ...while at 1.0 the concept without definition is kept, and wins the tie.
    assert [c for c, _ in kb_ents("vantric edema")][:2] == ["C9100011", "C9100012"]
    # Ties go to the smaller concept id (scispaCy sorts candidates by concept_id, then does a
    # stable sort by score), whatever the file order or which name the mention spells.
    for mention in ("grellic fever", "fever grellic", "grellic fevers"):
        s = scores(mention)
        assert s["C9100001"] == s["C9100002"], s
        assert [c for c, _ in kb_ents(mention)][:2] == ["C9100001", "C9100002"], mention
    # A concept without definition is kept at >= 0.95.
    [(cui, score)] = kb_ents("zorbic fevers")[:1]
    assert kb.cui_to_entity[cui].canonical_name == "zorbic fever" and score >= 0.95
    assert kb.cui_to_entity[cui].definition is None
    # Two CUIs, one canonical name.
    assert kb_ents("sombral nerve palsy")[0][0] == "C9100021"
    assert kb_ents("palsy of sombral")[0][0] == "C9100022"
    assert kb.cui_to_entity["C9100021"].canonical_name == "sombral palsy"
    assert kb.cui_to_entity["C9100022"].canonical_name == "sombral palsy"


@test
def bridge_equals_the_literal_mirror(ctx):
    results = ctx.lines[1:]
    expected = list(cases())
    assert [(r["task"], r["id"]) for r in results] == [(t, c["id"]) for t, c, _ in expected]
    for result, (task, case, reference) in zip(results, expected):
        P, R, F, pred, ref = ctx.mirror.compute_UMLS_F1(case["prediction"], reference)
        assert (result["precision"], result["recall"], result["f1"]) == (P, R, F), case["id"]
        assert result["prediction_entities"] == sorted(pred), case["id"]
        assert result["reference_entities"] == sorted(ref), case["id"]
        assert result["prediction_sha256"] == hashlib.sha256(
            case["prediction"].encode()).hexdigest()
        assert result["reference_sha256"] == hashlib.sha256(reference.encode()).hexdigest()
        assert list(result) == ["task", "id", "prediction_sha256", "reference_sha256",
                                "prediction_entities", "reference_entities", "precision",
                                "recall", "f1"]


@test
def bridge_function_equals_the_mirror(ctx):
    for _, case, reference in cases():
        got = clue_umls.umls_scores(ctx.mirror.nlp, ctx.mirror.linker, case["prediction"],
                                    reference)
        assert got == ctx.mirror.compute_UMLS_F1(case["prediction"], reference), case["id"]


@test
def each_case_gives_its_expected_numbers(ctx):
    for result, (_, case, _) in zip(ctx.lines[1:], cases()):
        pred, ref, P, R, F = case["expect"]
        assert set(result["prediction_entities"]) == pred, (case["id"], result)
        assert set(result["reference_entities"]) == ref, (case["id"], result)
        for name, want in (("precision", P), ("recall", R), ("f1", F)):
            assert abs(result[name] - want) < 1e-12, (case["id"], name, result[name], want)


@test
def both_empty_is_zero_not_one(ctx):
    assert ctx.mirror.compute_UMLS_F1("", "")[:3] == (0, 0, 0)
    assert clue_umls.umls_scores(ctx.mirror.nlp, ctx.mirror.linker, "", "")[:3] == (0, 0, 0)
    for result in ctx.lines[1:]:
        if result["id"] in ("ps-empty", "mq-empty"):
            assert result["prediction_entities"] == result["reference_entities"] == []
            assert result["precision"] == result["recall"] == result["f1"] == 0


@test
def semicolon_rewrite_changes_what_links(ctx):
    raw = "zorbic edema;kelvory cyst;"
    assert ctx.mirror.get_UMLS_entities(raw) == set()
    assert ctx.mirror.get_UMLS_entities(probsum_reference(raw)) == {"zorbic edema",
                                                                     "kelvory cyst"}
    assert probsum_reference(raw) == "zorbic edema, kelvory cyst"
    assert probsum_reference(raw, compat=True) == "zorbic edema, kelvory cyst, "
    out = ctx.root / "compat.jsonl"
    result = ctx.bridge("--compat", out=out)
    assert result.returncode == 0, result.stderr
    compat = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert compat[0] == ctx.lines[0]
    for plain, other in zip(ctx.lines[1:], compat[1:]):
        if plain["id"] == "ps-semicolon":
            assert other["reference_sha256"] == hashlib.sha256(
                b"zorbic edema, kelvory cyst, ").hexdigest()
            assert other["reference_sha256"] != plain["reference_sha256"]
            other = dict(other, reference_sha256=plain["reference_sha256"])
        assert other == plain, plain["id"]


@test
def shots_are_not_in_the_samples(ctx):
    records = medisumqa_records()
    order = list(range(len(records)))
    random.seed(1)
    random.shuffle(order)
    assert records[order[0]]["id"] == "shot-1"
    sample_ids = {c["id"] for c in PROBSUM_CASES + MEDISUMQA_CASES}
    assert not sample_ids & {"shot-1", "shot-2", "shot-3"}
    for c in PROBSUM_CASES + MEDISUMQA_CASES:
        assert c["prediction"] == c["prediction"].strip()


@test
def output_is_stable_run_to_run(ctx):
    # Lines of other tasks and blank lines are skipped.
    lines = samples_jsonl().splitlines()
    other = json.dumps({"task": "mednli", "id": "ps-names", "prediction": "entailment",
                        "answer": {"kind": "labels", "labels": ["entailment"]}})
    mixed = ctx.root / "mixed.jsonl"
    mixed.write_text("\n".join(lines[:3] + [other, ""] + lines[3:]) + "\n", encoding="utf-8")
    out = ctx.root / "again.jsonl"
    result = ctx.bridge(samples=mixed, out=out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == ctx.out.read_bytes()


def bad(ctx, name, content=None, **kwargs):
    if content is not None:
        path = ctx.root / name
        path.write_text(content, encoding="utf-8")
        kwargs.setdefault("samples", path)
    result = ctx.bridge(**kwargs)
    assert result.returncode == 2, (name, result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("clue_umls: error: "), result.stderr
    return result.stderr


@test
def bad_input_is_one_message_naming_file_and_line(ctx):
    good = samples_jsonl().splitlines()
    message = bad(ctx, "malformed.jsonl", good[0] + "\n{not json\n")
    assert "malformed.jsonl, line 2: malformed JSON" in message, message
    unknown = json.dumps({"task": "probsum", "id": "no-such-note",
                          "answer": {"kind": "text", "text": "x"}})
    message = bad(ctx, "unknown.jsonl", "\n".join(good[:2] + [unknown]) + "\n")
    assert "unknown.jsonl, line 3" in message and "'no-such-note'" in message, message
    assert "probsum.csv" in message, message
    missing = json.dumps({"task": "medisumqa", "id": "mq-tie", "prediction": "x"})
    message = bad(ctx, "noanswer.jsonl", good[0] + "\n" + missing + "\n")
    assert "noanswer.jsonl, line 2" in message, message
    assert "needs the answer field of a clue samples file" in message, message
    message = bad(ctx, "shot.jsonl", json.dumps({"task": "probsum", "id": "x"}) + "\n",
                  data=[f"medisumqa={ctx.data / 'medisumqa.json'}"])
    assert "answer" in message, message
    message = bad(ctx, "nodata.jsonl", good[0] + "\n",
                  data=[f"medisumqa={ctx.data / 'medisumqa.json'}"])
    assert "no --data probsum=FILE" in message, message
    message = bad(ctx, "samples-ok", None, data=[f"probsum={ctx.root / 'absent.csv'}",
                                                 f"medisumqa={ctx.data / 'medisumqa.json'}"])
    assert "absent.csv: cannot read" in message, message
    broken_csv = ctx.root / "broken.csv"
    broken_csv.write_text(probsum_csv() + "ps-extra,only two\n", encoding="utf-8")
    message = bad(ctx, "samples-ok", None, data=[f"probsum={broken_csv}",
                                                 f"medisumqa={ctx.data / 'medisumqa.json'}"])
    assert "broken.csv, line 10" in message, message
    partial_kb = ctx.root / "partial-kb"
    shutil.copytree(ctx.kb, partial_kb)
    (partial_kb / "nmslib_index.bin").unlink()
    message = bad(ctx, "samples-ok", None, kb=partial_kb)
    assert "missing KB file: nmslib_index.bin" in message, message
    (partial_kb / "test_kb.jsonl").unlink()
    message = bad(ctx, "samples-ok", None, kb=partial_kb)
    assert "missing KB file" in message and "*.jsonl" in message, message


@test
def nothing_is_downloaded(ctx):
    from scispacy import file_cache, candidate_generation, linking_utils

    for module in (file_cache, candidate_generation, linking_utils):
        try:
            module.cached_path("https://example.invalid/umls.jsonl")
        except clue_umls.BridgeError as error:
            assert "never downloads" in str(error) or "not a local file" in str(error)
        else:
            raise AssertionError(f"{module.__name__}.cached_path accepted a URL")


GOLDEN_FILES = ("samples.jsonl", "probsum.csv", "medisumqa.json", "umls.jsonl")


def produced(ctx, name: str) -> bytes:
    if name == "umls.jsonl":
        return ctx.out.read_bytes()
    return (ctx.data / name).read_bytes()


@test
def golden_files_match(ctx):
    if ctx.bless:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name in GOLDEN_FILES:
            (GOLDEN / name).write_bytes(produced(ctx, name))
        print(f"  blessed {', '.join(GOLDEN_FILES)} in {GOLDEN.relative_to(REPO)}")
        return
    for name in GOLDEN_FILES:
        path = GOLDEN / name
        assert path.is_file(), f"{path} is missing: run umls/test --bless"
        if path.read_bytes() != produced(ctx, name):
            import difflib

            diff = "".join(difflib.unified_diff(
                path.read_text(encoding="utf-8").splitlines(True),
                produced(ctx, name).decode("utf-8").splitlines(True),
                str(path), "produced", n=1))
            raise AssertionError(f"{name} differs from the golden file "
                                 f"(umls/test --bless rewrites it):\n{diff[:4000]}")


def main() -> int:
    bless = "--bless" in sys.argv[1:]
    unknown = [a for a in sys.argv[1:] if a != "--bless"]
    if unknown:
        print(f"usage: {sys.argv[0]} [--bless]", file=sys.stderr)
        return 2
    import time

    started = time.monotonic()
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="clue-umls-test-") as tmp:
        try:
            ctx = Context(Path(tmp))
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            print(f"setup of the test data failed\n0 passed, {len(TESTS)} failed")
            return 1
        ctx.bless = bless
        for function in TESTS:
            try:
                function(ctx)
            except Exception as error:  # noqa: BLE001
                failed += 1
                print(f"FAIL {function.__name__}: {type(error).__name__}: {error}")
                if not isinstance(error, AssertionError):
                    traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {function.__name__}")
    print(f"umls tests took {time.monotonic() - started:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
