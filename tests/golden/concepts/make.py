"""Writes tests/golden/concepts/nearest.json: for each mention below, the ICD-10-CM name that
scikit-learn's TF-IDF of character 3-grams within words (the vectorizer scispaCy's linker builds,
`TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3))`, here with every gram kept) puts
nearest by cosine, over the vocabulary the crate embeds (src/metrics/icd10cm-names.tsv.gz),
ties to the smallest code. tests/concepts.rs compares `Vocabulary::nearest` with it.

Run with the UMLS bridge's pinned environment (scikit-learn 1.6.1, numpy 1.26.4):
    "$(umls/setup | tail -n 1)" tests/golden/concepts/make.py
"""

import gzip
import json
import pathlib

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

CRATE = pathlib.Path(__file__).resolve().parents[3]
NAMES = CRATE / "src" / "metrics" / "icd10cm-names.tsv.gz"
OUT = pathlib.Path(__file__).with_name("nearest.json")

# Made-up wording of the kind problem lists and answers use; a few far from any name.
MENTIONS = [
    "type 2 diabetes mellitus", "diabetes", "essential hypertension", "hypertension",
    "COPD", "chronic obstructive pulmonary disease", "pneumonia", "community acquired pneumonia",
    "acute kidney failure", "acute kidney injury", "heart failure", "atrial fibrillation",
    "sepsis", "urinary tract infection", "esophageal varices", "alcohol dependence",
    "upper GI bleed", "gastrointestinal hemorrhage", "iron deficiency anemia", "anemia",
    "hyponatremia", "hypokalemia", "cellulitis of left leg", "deep vein thrombosis",
    "pulmonary embolism", "asthma exacerbation", "major depressive disorder", "obesity",
    "chest pain", "shortness of breath", "fever", "cholera", "typhoid and paratyphoid fevers",
    "zorbic fever", "the", "Rest at home",
]


def main():
    codes, names = [], []
    for line in gzip.decompress(NAMES.read_bytes()).decode("utf-8").splitlines():
        code, name = line.split("\t", 1)
        codes.append(code)
        names.append(name)
    order = np.argsort(codes, kind="stable")
    codes = [codes[i] for i in order]
    names = [names[i] for i in order]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), dtype=np.float32)
    matrix = vectorizer.fit_transform(names)
    rows = []
    for mention in MENTIONS:
        query = vectorizer.transform([mention])
        if query.nnz == 0:
            rows.append({"mention": mention, "code": None, "name": None, "cosine": None})
            continue
        cosines = (matrix @ query.T).toarray().ravel()
        best = float(cosines.max())
        # The smallest code among those at the best cosine (rows are in code order).
        row = int(np.flatnonzero(cosines == cosines.max())[0])
        rows.append({"mention": mention, "code": codes[row], "name": names[row], "cosine": best})
    OUT.write_text(json.dumps({"scikit-learn": sklearn.__version__, "nearest": rows}, indent=1) + "\n")
    print(f"{OUT.relative_to(CRATE)}: {len(rows)} mentions")


if __name__ == "__main__":
    main()
