"""Synthetic CLUE demo sets: one small file per task, in the official file formats.

FICTIONAL DATA - NO PATIENT DATA. Every sentence, note, letter, question and answer below was
written by hand for clue-wasm's demo. Nothing is copied from MIMIC, MedNLI, MeQSum, Problem
Summary (BioNLP-2023), LongHealth, MeDiSumQA, MeDiSumCode or any other dataset. All people are
invented ("Ms. Lena Example", "Mr. John Sample", ...), all dates lie in the year 2099, and all
record numbers start with "demo". The sets exist so that a user without credentialed data can
press Run and watch CLUE work; their scores say nothing about a model's clinical ability.

The only outside input is the public ICD-10-CM code table (data/icd10cm-codes.json.gz),
used to check that every MeDiSumCode gold code is a real code and to copy its description.

Usage (from the repository root, with the pinned requirements installed in a venv):

    python scripts/demo_data/generate.py            # (re)write src/data/demo/*
    python scripts/demo_data/generate.py --check    # fail if the committed files differ

Output is deterministic (fixed zip timestamps and document properties in the xlsx), so the
committed files can be compared byte for byte with a fresh run.
"""

import argparse
import csv
import gzip
import io
import json
import math
import re
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "src" / "data" / "demo"
ICD_TABLE = REPO / "data" / "icd10cm-codes.json.gz"
FICTION_NOTE = (
    "Synthetic, clearly fictional demo data written for clue-wasm. "
    "No patient data; all names and dates are invented."
)

# --------------------------------------------------------------------------------------------
# MedNLI: each premise is paired with one hypothesis per label, as MedNLI's annotators did.
# --------------------------------------------------------------------------------------------

NLI_PREMISES = [
    {
        "premise": "On arrival she was febrile to 39.2 C with a productive cough, and the chest "
        "x-ray showed a right lower lobe consolidation.",
        "entailment": "The patient has pneumonia.",
        "contradiction": "The patient's chest imaging was unremarkable.",
        "neutral": "The patient was started on intravenous antibiotics in the emergency department.",
    },
    {
        "premise": "Labs were notable for a potassium of 6.1 mEq/L and a creatinine of 2.4 mg/dL, "
        "up from a baseline of 1.0 mg/dL.",
        "entailment": "The patient has an acute kidney injury.",
        "contradiction": "The patient's electrolytes were within normal limits.",
        "neutral": "The patient takes lisinopril at home.",
    },
    {
        "premise": "He has a history of type 2 diabetes treated with metformin, with a hemoglobin "
        "A1c of 9.8% last month.",
        "entailment": "The patient's diabetes is poorly controlled.",
        "contradiction": "The patient has no history of diabetes.",
        "neutral": "The patient has diabetic retinopathy.",
    },
    {
        "premise": "The patient denies chest pain, and the ECG shows normal sinus rhythm without "
        "ST changes.",
        "entailment": "The ECG shows no signs of acute ischemia.",
        "contradiction": "The patient presented with crushing substernal chest pain.",
        "neutral": "The patient has a family history of coronary artery disease.",
    },
    {
        "premise": "She was found confused at home by her daughter, and EMS measured a blood "
        "glucose of 38 mg/dL.",
        "entailment": "The patient was hypoglycemic.",
        "contradiction": "The patient was alert and oriented when EMS arrived.",
        "neutral": "The patient uses insulin.",
    },
    {
        "premise": "A non-contrast CT of the head showed no acute intracranial hemorrhage.",
        "entailment": "There was no bleeding in the brain on imaging.",
        "contradiction": "The patient has an intracranial bleed.",
        "neutral": "The patient has had an ischemic stroke.",
    },
]

NLI_LABELS = ["entailment", "contradiction", "neutral"]


def mednli_rows():
    """Row i pairs premise i mod 6 with the labels in rotation, so every premise gets all three
    labels and the first three rows (the paper profile's few-shot rows) cover all three."""
    rows = []
    n = len(NLI_PREMISES)
    for i in range(n * len(NLI_LABELS)):
        item = NLI_PREMISES[i % n]
        label = NLI_LABELS[(i + i // n) % len(NLI_LABELS)]
        rows.append(
            {
                "sentence1": item["premise"],
                "sentence2": item[label],
                "gold_label": label,
                "pairID": f"demo-mednli-{i + 1:02d}",
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# MeQSum: consumer health questions written like patient e-mails, each with a one-question
# summary. Typos are deliberate: real inquiries have them.
# --------------------------------------------------------------------------------------------

MEQSUM = [
    (
        "SUBJECT: metformin and stomach\nMESSAGE: Hi, my doctor started me on metformin 500mg two "
        "weeks ago for type 2 diabetis and ever since I have diarrhea and stomach cramps almost "
        "every day. I take it with breakfast like they said. Is this normal and does it go away "
        "or should I ask to switch to somthing else? I dont want to stop it on my own. Thanks",
        "Do diarrhea and stomach cramps from metformin go away over time?",
    ),
    (
        "my mom is 78 and was just told she has shingles on her side. she had the chickenpox as a "
        "kid. can she give it to my grandkids who come over every weekend? they are 3 and 6 and "
        "the little one hasnt had all his shots yet. what should we do",
        "Can a person with shingles spread it to young children?",
    ),
    (
        "SUBJECT: lisinopril cough\nMESSAGE: I have been on lisinopril for blood pressure for "
        "about a year and I have this dry tickly cough that wont quit, especially at night. No "
        "cold, no fever. My wife read online that the pill can do this. Is that true? I would "
        "rather not keep coughing for another year.",
        "Can lisinopril cause a persistent dry cough?",
    ),
    (
        "Hello. I am 34 weeks pregnant and have bad heartburn every night, it keeps me awake. Is "
        "it safe to take tums or omeprazole while pregnant? My OB office is closed until monday. "
        "I also have some swelling in my ankles but my midwife said thats normal at this stage.",
        "Which heartburn medicines are safe to take during pregnancy?",
    ),
    (
        "SUBJECT: gout and diet\nMESSAGE: had my first gout attack in the big toe last month, it "
        "was the worst pain of my life. doc gave me colchicine and it calmed down. what foods "
        "should i stay away from so it doesnt come back? i eat alot of red meat and drink beer "
        "on weekends.",
        "What foods should be avoided to prevent gout attacks?",
    ),
    (
        "My son is 9 and was just diagnosed with ADHD. The pediatrician wants to start "
        "methylphenidate. I am worried about side effects like him not growing or not eating "
        "lunch at school. How common are these problems? Are there other side effects we should "
        "watch out for? Thank you for any information.",
        "What are the side effects of methylphenidate in children?",
    ),
    (
        "SUBJECT: thyroid pill timing\nMESSAGE: I take levothyroxine 75 mcg every morning but i "
        "also take calcium and iron because i'm anemic. my pharmacist said something about "
        "taking them apart but I forgot what she said. how many hours apart should they be? "
        "Thank you so much",
        "How far apart should levothyroxine be taken from calcium and iron supplements?",
    ),
    (
        "I was bit by my neighbors dog on the hand yesterday, it broke the skin a little. They "
        "say the dog is vaccinated. Its a bit red and swollen today and warm. do I need a "
        "tetanus shot or antibiotics? my last tetanus was maybe 12 years ago, not sure.",
        "Does a dog bite that broke the skin need a tetanus shot or antibiotics?",
    ),
    (
        "SUBJECT: statin and muscle pain\nMESSAGE: Started atorvastatin 40 three months ago. Now "
        "both my thighs ache when I walk up stairs and it is getting worse. Is this from the "
        "statin? Should I get a blood test for it? I am 61 and also take amlodipine for blood "
        "pressure.",
        "Can atorvastatin cause muscle pain in the legs?",
    ),
    (
        "my husband snores really loud and sometimes stops breathing at night for a few seconds "
        "then gasps. he is always tired during the day and nodded off at a red light last week "
        "which scared me. how do they find out if its sleep apnea, what test do they do?",
        "How is sleep apnea diagnosed?",
    ),
    (
        "SUBJECT: flu shot egg allergy\nMESSAGE: my daughter has an egg allergy (she gets hives "
        "when she eats scrambled eggs). can she still get the flu vaccine this year? her school "
        "wants it before the class trip and I dont want her to have a reaction.",
        "Can a person with an egg allergy receive the flu vaccine?",
    ),
    (
        "Hi I have had a migraine for 3 days straight. I normally take sumatriptan and it works "
        "but this time it isnt. I've taken 2 tablets each day. is it dangerous to take more of "
        "them? I have work tomorrow and cant take another day off.",
        "What is the maximum safe daily dose of sumatriptan?",
    ),
    (
        "SUBJECT: warfarin and antibiotics\nMESSAGE: My father is on warfarin for atrial "
        "fibrilation and his dentist just prescribed amoxicillin for a tooth infection. Does the "
        "antibiotic change how the warfarin works? Should his INR be checked sooner than "
        "usual? he is 82.",
        "Does amoxicillin interact with warfarin?",
    ),
    (
        "i found a small hard lump in my neck under the jaw, about the size of a pea, it doesnt "
        "hurt. I had a bad sore throat 2 weeks ago that is better now. how long does it take "
        "for a swollen gland like that to go down? i'm 27 and otherwise healthy",
        "How long does a swollen lymph node take to go down after a throat infection?",
    ),
    (
        "SUBJECT: vitamin D dose\nMESSAGE: my blood test says vitamin D is 14 and the doctor said "
        "to take 50,000 units once a week for 8 weeks. That sounds like a huge amount, is that "
        "safe?? Could I take a smaller daily one from the store instead?",
        "Is a weekly dose of 50,000 units of vitamin D safe for treating a deficiency?",
    ),
]


def meqsum_rows():
    return [
        {"File": f"demo-chq-{i + 1:02d}.txt", "CHQ": chq, "Summary": summary}
        for i, (chq, summary) in enumerate(MEQSUM)
    ]


# --------------------------------------------------------------------------------------------
# Problem Summary: progress-note sections (Subjectives, Objectives, Assessment) and the problem
# list, ";"-separated like the BioNLP-2023 task 1A files.
# --------------------------------------------------------------------------------------------

PROBSUM = [
    (
        "72 yo M with COPD on 2L home O2 admitted with 3 days of worsening dyspnea and increased "
        "sputum. Overnight required BiPAP for 4 hours, now back on nasal cannula. Reports "
        "feeling less short of breath this morning.",
        "T 37.8 HR 102 BP 138/76 RR 24 SpO2 91% on 4L NC. Diffuse expiratory wheezes "
        "bilaterally. ABG 7.32/58/68. WBC 13.1.",
        "72 yo M with severe COPD with acute hypercarbic respiratory failure from a COPD "
        "exacerbation, likely triggered by viral bronchitis. Improving on steroids, nebulizers "
        "and azithromycin.",
        "Acute hypercarbic respiratory failure; COPD exacerbation; Viral bronchitis",
    ),
    (
        "58 yo F with heavy alcohol use presented with hematemesis x2 and black stools. Last "
        "drink 2 days prior. Endorses tremor and sweats overnight.",
        "HR 112 BP 98/60. Hgb 7.1 (from 10.4). Plt 88. INR 1.6. CIWA 14. EGD: grade III "
        "esophageal varices, banded x3.",
        "Upper GI bleed from esophageal varices in setting of likely alcoholic cirrhosis, s/p "
        "banding; acute blood loss anemia s/p 2u PRBC; alcohol withdrawal on CIWA protocol; "
        "thrombocytopenia.",
        "Variceal upper GI bleed; Alcoholic cirrhosis; Acute blood loss anemia; Alcohol "
        "withdrawal; Thrombocytopenia",
    ),
    (
        "80 yo F from nursing facility with confusion and decreased PO intake x3 days. Foley "
        "placed for retention. Family notes she is more alert today.",
        "T 38.6 HR 98 BP 104/58. WBC 16.2, lactate 2.8, Cr 1.9 (baseline 0.9). UA >50 WBC, "
        "nitrite positive. Blood cultures pending.",
        "Sepsis from urinary source with toxic metabolic encephalopathy and AKI, likely "
        "prerenal. On ceftriaxone and IV fluids; mental status improving.",
        "Sepsis; Urinary tract infection; Toxic metabolic encephalopathy; Acute kidney injury",
    ),
    (
        "64 yo M with ischemic cardiomyopathy (EF 25%) admitted with 10 lb weight gain, "
        "orthopnea and leg swelling after running out of torsemide. Diuresed 2 L yesterday, "
        "breathing easier.",
        "BP 112/70 HR 88 irregular. JVP 12 cm. Bibasilar crackles. 2+ pitting edema to knees. "
        "BNP 2340. Na 131. K 3.4. Tele: atrial fibrillation, rate 80-100.",
        "Acute on chronic systolic heart failure due to medication nonadherence; atrial "
        "fibrillation, rate controlled on metoprolol; hypervolemic hyponatremia; hypokalemia "
        "with diuresis.",
        "Acute on chronic systolic heart failure; Atrial fibrillation; Hyponatremia; "
        "Hypokalemia",
    ),
    (
        "45 yo F with type 1 diabetes brought in with nausea, vomiting and abdominal pain after "
        "missing insulin doses during a stomach bug. Now tolerating sips.",
        "Glucose 512 on admission, now 180. Anion gap 24 -> 12. pH 7.12 -> 7.31. K 3.2. "
        "Beta-hydroxybutyrate 6.1.",
        "Diabetic ketoacidosis, resolving, transitioning from insulin drip to subcutaneous "
        "insulin; hypokalemia being repleted; viral gastroenteritis.",
        "Diabetic ketoacidosis; Type 1 diabetes mellitus; Hypokalemia; Viral gastroenteritis",
    ),
    (
        "67 yo M POD 1 after right hemicolectomy for colon adenocarcinoma. Pain controlled with "
        "PCA. Passing flatus. Desaturated to 86% overnight, improved with incentive spirometry.",
        "T 38.1 HR 94 RR 22 SpO2 93% on 2L. Decreased breath sounds at bases. CXR bibasilar "
        "atelectasis. Hgb 9.8.",
        "s/p right hemicolectomy for colon cancer with postoperative fever and hypoxemia most "
        "consistent with atelectasis; postoperative anemia, stable.",
        "Colon adenocarcinoma s/p right hemicolectomy; Atelectasis; Hypoxemia; Postoperative "
        "anemia",
    ),
    (
        "52 yo F with sudden left-sided weakness and slurred speech, last known well 5 hours "
        "before arrival, not a tPA candidate. Speech slightly clearer today.",
        "BP 178/96. NIHSS 7. MRI acute infarct in right MCA territory. LDL 162. A1c 6.9. Tele "
        "sinus rhythm.",
        "Acute ischemic stroke in right MCA territory, embolic vs large artery; hypertension, "
        "permissive for now; hyperlipidemia, high-intensity statin started; new diagnosis of "
        "type 2 diabetes.",
        "Acute ischemic stroke; Hypertension; Hyperlipidemia; Type 2 diabetes mellitus",
    ),
    (
        "38 yo M with heavy alcohol use presenting with severe epigastric pain radiating to the "
        "back and vomiting. Pain better on hydromorphone. NPO.",
        "HR 108 BP 132/84. Lipase 2840. Triglycerides 310. Ca 7.9. CT peripancreatic fat "
        "stranding without necrosis.",
        "Acute alcoholic pancreatitis without necrosis; hypocalcemia; tachycardia from pain and "
        "volume depletion.",
        "Acute alcoholic pancreatitis; Hypocalcemia; Volume depletion",
    ),
    (
        "59 yo M with CKD stage 4 with fatigue, poor appetite and itching for 2 weeks. Missed "
        "his last nephrology appointments.",
        "BP 168/92. BUN 118, Cr 6.8, K 6.3, HCO3 14. Hgb 8.2. ECG peaked T waves.",
        "Progression of CKD to end-stage renal disease with uremic symptoms, hyperkalemia and "
        "metabolic acidosis; anemia of CKD; uncontrolled hypertension. Tunneled HD catheter "
        "placed, first dialysis today.",
        "End-stage renal disease; Hyperkalemia; Metabolic acidosis; Anemia of chronic kidney "
        "disease; Hypertension",
    ),
    (
        "29 yo F 2 weeks postpartum with sudden pleuritic chest pain and shortness of breath. "
        "Right calf swelling for 4 days.",
        "HR 118 SpO2 90% RA. CTA chest: right lower lobe segmental pulmonary emboli, no RV "
        "strain. LE duplex: right popliteal DVT. Troponin negative.",
        "Acute pulmonary embolism with right lower extremity DVT, provoked by postpartum state; "
        "hemodynamically stable on enoxaparin.",
        "Pulmonary embolism; Deep vein thrombosis; Postpartum state",
    ),
    (
        "76 yo M with 2 days of cough, fever and worsening confusion. Lives alone, neighbor "
        "found him in bed.",
        "T 39.0 HR 110 BP 92/54 RR 28 SpO2 88% RA. CXR left lower lobe consolidation. WBC 18.4. "
        "Lactate 3.6. Na 128.",
        "Septic shock from community-acquired left lower lobe pneumonia requiring "
        "norepinephrine; acute hypoxemic respiratory failure on high-flow oxygen; hypovolemic "
        "hyponatremia; delirium.",
        "Septic shock; Community-acquired pneumonia; Acute hypoxemic respiratory failure; "
        "Hyponatremia; Delirium",
    ),
    (
        "61 yo F with hepatitis C cirrhosis admitted with increasing abdominal girth and "
        "confusion. Husband says she stopped lactulose a week ago.",
        "Asterixis present. Tense ascites. Paracentesis 620 PMNs. Bilirubin 4.2. Albumin 2.4. "
        "INR 1.9. Cr 1.5.",
        "Hepatic encephalopathy precipitated by lactulose nonadherence and spontaneous bacterial "
        "peritonitis; decompensated hepatitis C cirrhosis with ascites; AKI, concern for "
        "hepatorenal physiology.",
        "Hepatic encephalopathy; Spontaneous bacterial peritonitis; Hepatitis C cirrhosis; "
        "Ascites; Acute kidney injury",
    ),
    (
        "70 yo M with 1 hour of crushing substernal chest pain radiating to the left arm, taken "
        "for emergent catheterization. Chest pain free this morning. Smokes 1 ppd.",
        "ECG ST elevation V1-V4. Peak troponin 48. Cath: 100% proximal LAD occlusion, "
        "drug-eluting stent placed. Echo EF 40%, anterior hypokinesis.",
        "Anterior STEMI s/p PCI to proximal LAD, on dual antiplatelet therapy; new ischemic "
        "cardiomyopathy with mildly reduced EF; tobacco use.",
        "ST elevation myocardial infarction; Coronary artery disease; Ischemic cardiomyopathy; "
        "Tobacco use",
    ),
    (
        "48 yo F with asthma admitted with wheeze and chest tightness after a cold; was using "
        "albuterol every hour at home.",
        "RR 26 SpO2 92% RA. Peak flow 45% predicted. Diffuse wheeze. CXR clear. Respiratory "
        "viral panel positive for rhinovirus.",
        "Severe asthma exacerbation triggered by rhinovirus infection, improving on systemic "
        "steroids and scheduled bronchodilators.",
        "Asthma exacerbation; Rhinovirus infection",
    ),
    (
        "83 yo F on apixaban for atrial fibrillation fell at home and hit her head, now with new "
        "headache and vomiting.",
        "GCS 14. CT head: 1.2 cm left subdural hematoma with 3 mm midline shift. Hgb 11.2. "
        "Plt 210.",
        "Acute traumatic subdural hematoma on anticoagulation, apixaban reversed with andexanet; "
        "mechanical fall; atrial fibrillation, anticoagulation on hold.",
        "Subdural hematoma; Fall; Atrial fibrillation",
    ),
]


def probsum_rows():
    return [
        {
            "File ID": f"demo-note-{i + 1:02d}",
            "Subjectives": subjectives,
            "Objectives": objectives,
            "Assessment": assessment,
            "Summary": summary,
        }
        for i, (subjectives, objectives, assessment, summary) in enumerate(PROBSUM)
    ]


# --------------------------------------------------------------------------------------------
# LongHealth: fictional patients, each with a few short clinical documents and multiple-choice
# questions. "evidence" names the passages that answer a question; the generator turns them into
# answer_location entries. LongHealth stores those as relative positions (fractions of the text
# length): CLUE's create_prompt scales them by each document's token length.
# --------------------------------------------------------------------------------------------

LONGHEALTH = {
    "patient_01": {
        "texts": {
            "text_0": """Dear colleague,

We report on our patient Ms. Lena Example, born 06/12/2048, who was treated as an inpatient in our department of hematology and oncology from 03/02/2099 to 03/16/2099.

Diagnosis: Diffuse large B-cell lymphoma, Ann Arbor stage IIIB.

History: Ms. Example presented with a painless swelling on the left side of the neck for six weeks, drenching night sweats and an unintended weight loss of 7 kg. Examination showed enlarged lymph nodes in the left cervical and both axillary regions.

Course: An excisional biopsy of a left cervical lymph node was performed on 03/04/2099 and confirmed the diagnosis. Staging PET-CT showed lymphoma above and below the diaphragm without organ or bone marrow involvement. Echocardiography before anthracycline therapy showed a normal ejection fraction of 62%. The first cycle of R-CHOP was given on 03/14/2099 and was well tolerated. Tumor lysis prophylaxis with allopurinol and hydration was given.

Plan: Five further cycles of R-CHOP every 21 days in our day clinic, with an interim PET-CT after three cycles.

With kind regards,
Dr. Demo, attending physician""",
            "text_1": """Pathology report

Patient: Ms. Lena Example, born 06/12/2048
Material received 03/04/2099: excisional biopsy of a left cervical lymph node, 2.8 x 2.1 cm.

Microscopy: The lymph node architecture is effaced by a diffuse infiltrate of large atypical lymphoid cells with vesicular nuclei and prominent nucleoli. Numerous mitoses and apoptotic bodies are present.

Immunohistochemistry: The tumor cells are positive for CD20, CD10 and BCL6 and negative for MUM1 and CD3. The Ki-67 proliferation index is 80%. MYC is expressed in 30% of the tumor cells; FISH showed no MYC rearrangement.

Diagnosis: Diffuse large B-cell lymphoma, germinal center B-cell type according to the Hans classifier.""",
            "text_2": """Radiology report: PET-CT

Patient: Ms. Lena Example, born 06/12/2048
Date of examination: 05/09/2099
Indication: Interim staging after three cycles of R-CHOP for diffuse large B-cell lymphoma.

Findings: The previously FDG-avid lymph nodes in the left cervical and both axillary regions have decreased markedly in size; the largest residual node measures 9 mm. FDG uptake in all former lesions is at or below the mediastinal blood pool, corresponding to a Deauville score of 2. There are no new lesions. Spleen and bone marrow show no pathological uptake.

Impression: Complete metabolic response after three cycles of therapy. Treatment can be continued as planned; a final PET-CT is recommended after completion of all six cycles.""",
            "text_3": """Outpatient letter, hematology clinic
Date: 08/22/2099

Ms. Lena Example, born 06/12/2048, presented for follow-up after completing six cycles of R-CHOP; the last cycle was given on 06/27/2099. The end-of-treatment PET-CT on 08/10/2099 confirmed an ongoing complete metabolic response.

Ms. Example reports tingling in both feet since the fourth cycle, consistent with vincristine-induced peripheral neuropathy, grade 1. It does not limit her daily activities. Blood counts have recovered: hemoglobin 12.1 g/dL, leukocytes 5.4 /nL, platelets 231 /nL. She has returned to part-time work as a teacher.

Plan: Clinical follow-up every three months for the first two years, without routine imaging unless symptoms recur. At her request, no medication for the neuropathy was started.""",
        },
        "questions": [
            {
                "question": "Which lymph node was biopsied to establish Ms. Example's diagnosis?",
                "options": [
                    "Right axillary lymph node",
                    "Left cervical lymph node",
                    "Left inguinal lymph node",
                    "Mediastinal lymph node",
                    "Right supraclavicular lymph node",
                ],
                "correct": "Left cervical lymph node",
                "evidence": {
                    "text_1": ["excisional biopsy of a left cervical lymph node, 2.8 x 2.1 cm"],
                    "text_0": [
                        "An excisional biopsy of a left cervical lymph node was performed on "
                        "03/04/2099"
                    ],
                },
            },
            {
                "question": "What Ki-67 proliferation index was reported for the tumor cells?",
                "options": ["30%", "50%", "65%", "80%", "95%"],
                "correct": "80%",
                "evidence": {"text_1": ["The Ki-67 proliferation index is 80%."]},
            },
            {
                "question": "Which chemotherapy regimen did Ms. Example receive?",
                "options": ["ABVD", "R-bendamustine", "BEACOPP", "DA-EPOCH", "R-CHOP"],
                "correct": "R-CHOP",
                "evidence": {
                    "text_0": ["The first cycle of R-CHOP was given on 03/14/2099"],
                    "text_3": ["after completing six cycles of R-CHOP"],
                },
            },
            {
                "question": "Which Deauville score was reported on the interim PET-CT?",
                "options": [
                    "Deauville score of 1",
                    "Deauville score of 3",
                    "Deauville score of 2",
                    "Deauville score of 4",
                    "Deauville score of 5",
                ],
                "correct": "Deauville score of 2",
                "evidence": {
                    "text_2": [
                        "FDG uptake in all former lesions is at or below the mediastinal blood "
                        "pool, corresponding to a Deauville score of 2."
                    ]
                },
            },
            {
                "question": "Which side effect of therapy was documented at the follow-up visit "
                "in August 2099?",
                "options": [
                    "Hemorrhagic cystitis",
                    "Cardiomyopathy",
                    "Pulmonary fibrosis",
                    "Peripheral neuropathy",
                    "Hearing loss",
                ],
                "correct": "Peripheral neuropathy",
                "evidence": {
                    "text_3": ["consistent with vincristine-induced peripheral neuropathy, grade 1"]
                },
            },
        ],
    },
    "patient_02": {
        "texts": {
            "text_0": """Dear colleague,

We report on Mr. Oskar Sample, born 09/30/2016, who was treated in our department of cardiology from 02/14/2099 to 02/21/2099.

Diagnoses: Severe symptomatic aortic valve stenosis; arterial hypertension; chronic kidney disease stage 3a.

History: Mr. Sample reported shortness of breath after climbing one flight of stairs and a brief loss of consciousness while gardening in January 2099.

Findings: Transthoracic echocardiography showed a heavily calcified aortic valve with a mean gradient of 48 mmHg, a valve area of 0.7 cm2 and a preserved ejection fraction of 58%.

Course: After discussion in the heart team, transcatheter aortic valve implantation (TAVI) via transfemoral access was performed on 02/17/2099 with a 26 mm balloon-expandable valve. After the procedure the ECG showed a new left bundle branch block; telemetry over 72 hours showed no higher-grade AV block, so no pacemaker was required. The right groin puncture site healed without complications.

Medication at discharge: aspirin 100 mg once daily, ramipril 5 mg once daily, atorvastatin 20 mg once daily.""",
            "text_1": """Cardiac catheterization report

Patient: Mr. Oskar Sample, born 09/30/2016
Date: 02/15/2099
Indication: Exclusion of coronary artery disease before planned aortic valve replacement.

Access: Right radial artery, 6 French.

Findings: The left main coronary artery shows no stenosis. The left anterior descending artery has wall irregularities without relevant stenosis. The circumflex artery shows no stenosis. The right coronary artery has a 40% stenosis in its middle segment with an FFR of 0.89, which is not hemodynamically significant.

Left ventriculography: Normal left ventricular function without regional wall motion abnormalities. Simultaneous pressure measurement confirmed a severe aortic valve stenosis.

Result: No coronary intervention required. The radial access was closed with a compression band.""",
            "text_2": """Echocardiography report

Patient: Mr. Oskar Sample, born 09/30/2016
Date: 05/20/2099
Indication: Three-month follow-up after transcatheter aortic valve implantation.

Findings: The 26 mm valve prosthesis in aortic position is well seated with normal leaflet motion. The mean gradient across the prosthesis is 9 mmHg. There is a trace paravalvular leak at the non-coronary cusp without hemodynamic relevance. The left ventricle is not dilated, septal wall thickness 13 mm, ejection fraction 60%. No pericardial effusion.

Assessment: Good result after valve replacement. Mr. Sample now walks 2 km daily without shortness of breath. The ECG still shows the known left bundle branch block without AV block. Next echocardiography in one year, endocarditis prophylaxis before dental procedures.""",
        },
        "questions": [
            {
                "question": "What was the mean gradient across the aortic valve before the valve "
                "replacement?",
                "options": ["24 mmHg", "36 mmHg", "48 mmHg", "62 mmHg", "75 mmHg"],
                "correct": "48 mmHg",
                "evidence": {"text_0": ["a mean gradient of 48 mmHg"]},
            },
            {
                "question": "Which access route was used for the valve implantation?",
                "options": [
                    "Transfemoral",
                    "Transapical",
                    "Transaortic",
                    "Subclavian",
                    "Transcarotid",
                ],
                "correct": "Transfemoral",
                "evidence": {
                    "text_0": [
                        "transcatheter aortic valve implantation (TAVI) via transfemoral access"
                    ]
                },
            },
            {
                "question": "Which new ECG finding occurred after the procedure?",
                "options": [
                    "Third-degree AV block",
                    "Atrial fibrillation",
                    "Right bundle branch block",
                    "Left bundle branch block",
                    "ST-segment elevation",
                ],
                "correct": "Left bundle branch block",
                "evidence": {
                    "text_0": ["the ECG showed a new left bundle branch block"],
                    "text_2": ["The ECG still shows the known left bundle branch block"],
                },
            },
            {
                "question": "What did the coronary angiography show in the right coronary artery?",
                "options": [
                    "Chronic total occlusion",
                    "40% stenosis",
                    "90% stenosis",
                    "Coronary aneurysm",
                    "Myocardial bridging",
                ],
                "correct": "40% stenosis",
                "evidence": {
                    "text_1": [
                        "The right coronary artery has a 40% stenosis in its middle segment"
                    ]
                },
            },
            {
                "question": "What was the mean gradient across the prosthesis at the three-month "
                "follow-up?",
                "options": ["4 mmHg", "18 mmHg", "28 mmHg", "48 mmHg", "9 mmHg"],
                "correct": "9 mmHg",
                "evidence": {"text_2": ["The mean gradient across the prosthesis is 9 mmHg."]},
            },
        ],
    },
    "patient_03": {
        "texts": {
            "text_0": """Dear colleague,

We report on Ms. Erika Mustermann, born 03/08/2072, who was treated in our department of rheumatology from 01/05/2099 to 01/12/2099.

Diagnosis: Systemic lupus erythematosus, newly diagnosed, with arthritis, malar rash and renal involvement.

History: Ms. Mustermann reported painful swelling of the finger joints for three months, a facial rash after sun exposure and new swelling of both ankles.

Findings: Antinuclear antibodies 1:1280, anti-dsDNA antibodies 420 IU/mL, complement C3 0.52 g/L (low). Urine: proteinuria of 2.1 g/day with dysmorphic erythrocytes. Creatinine 1.1 mg/dL. Blood pressure 148/94 mmHg.

Course: Because of the proteinuria, a kidney biopsy was performed on 01/09/2099 without complications. Hydroxychloroquine 200 mg twice daily and prednisolone 50 mg daily were started. Further therapy will be decided once the biopsy result is available.""",
            "text_1": """Nephropathology report

Patient: Ms. Erika Mustermann, born 03/08/2072
Material: percutaneous biopsy of the left kidney, 01/09/2099, with 24 glomeruli.

Light microscopy: 15 of 24 glomeruli show endocapillary hypercellularity with wire-loop lesions; two glomeruli contain cellular crescents. There is no global sclerosis. Mild interstitial fibrosis of about 10%.

Immunofluorescence: Full-house pattern with granular deposits of IgG, IgA, IgM, C3 and C1q.

Electron microscopy: Numerous subendothelial and a few mesangial electron-dense deposits; diffuse effacement of podocyte foot processes. No tubuloreticular inclusions in the sampled capillaries.

Diagnosis: Lupus nephritis ISN/RPS class IV (diffuse), activity index 9/24, chronicity index 2/12.

Comment: Active proliferative lupus nephritis with only minor chronic damage; prompt induction therapy is recommended.""",
            "text_2": """Dear colleague,

We report on Ms. Erika Mustermann, born 03/08/2072, who was readmitted from 01/30/2099 to 02/03/2099 to start induction therapy for biopsy-proven lupus nephritis class IV.

Course: Induction therapy with mycophenolate mofetil was started and increased to 1.5 g twice daily, together with a prednisolone taper from 50 mg to 5 mg over six months. Hydroxychloroquine was continued. For blood pressure control and proteinuria, ramipril 5 mg once daily was started; blood pressure at discharge was 128/80 mmHg. Pneumocystis prophylaxis with trimethoprim-sulfamethoxazole three times weekly and vitamin D with calcium were added. Contraception was discussed because mycophenolate is teratogenic.

Laboratory at discharge: creatinine 1.0 mg/dL, potassium 4.6 mmol/L, leukocytes 8.9 /nL.""",
            "text_3": """Outpatient note, nephrology and rheumatology clinic
Date: 07/14/2099

Ms. Erika Mustermann, born 03/08/2072, attended a scheduled follow-up six months into induction therapy. In May 2099 she had a painful vesicular rash on the right side of the chest, diagnosed as herpes zoster and treated with valacyclovir for seven days; it healed without lasting pain.

Current findings: no arthritis, no rash. Proteinuria has decreased to 0.4 g/day, creatinine 0.9 mg/dL, anti-dsDNA 60 IU/mL, C3 normal. This corresponds to a complete renal response.

Plan: Continue mycophenolate mofetil 1.5 g twice daily, prednisolone 5 mg daily, hydroxychloroquine and ramipril. Recombinant zoster vaccination is recommended six months after the acute episode.""",
        },
        "questions": [
            {
                "question": "Which ISN/RPS class of lupus nephritis was found in the kidney biopsy?",
                "options": ["Class II", "Class III", "Class V", "Class VI", "Class IV"],
                "correct": "Class IV",
                "evidence": {
                    "text_1": ["Lupus nephritis ISN/RPS class IV (diffuse)"],
                    "text_2": ["biopsy-proven lupus nephritis class IV"],
                },
            },
            {
                "question": "Which drug was used as induction therapy for the lupus nephritis?",
                "options": [
                    "Cyclophosphamide",
                    "Rituximab",
                    "Mycophenolate mofetil",
                    "Azathioprine",
                    "Tacrolimus",
                ],
                "correct": "Mycophenolate mofetil",
                "evidence": {
                    "text_2": ["Induction therapy with mycophenolate mofetil was started"]
                },
            },
            {
                "question": "How much protein did Ms. Mustermann lose in the urine at her first "
                "presentation?",
                "options": ["0.4 g/day", "2.1 g/day", "3.5 g/day", "5.2 g/day", "7.8 g/day"],
                "correct": "2.1 g/day",
                "evidence": {"text_0": ["proteinuria of 2.1 g/day with dysmorphic erythrocytes"]},
            },
            {
                "question": "Which infection occurred during the immunosuppressive therapy?",
                "options": [
                    "Pneumocystis pneumonia",
                    "Urinary tract infection",
                    "Cytomegalovirus colitis",
                    "Herpes zoster",
                    "Oral candidiasis",
                ],
                "correct": "Herpes zoster",
                "evidence": {
                    "text_3": [
                        "a painful vesicular rash on the right side of the chest, diagnosed as "
                        "herpes zoster"
                    ]
                },
            },
        ],
    },
}

# Relative positions are rounded like a human-readable file; the rounding is far below one
# character for texts of this size (checked in longhealth_object).
LOCATION_DIGITS = 4


def relative_span(text, passage, where):
    """The passage's start and end as fractions of the text's length in characters."""
    start = text.find(passage)
    if start < 0 or text.find(passage, start + 1) >= 0:
        raise ValueError(f"{where}: evidence must occur exactly once: {passage!r}")
    end = start + len(passage)
    rel_start = round(start / len(text), LOCATION_DIGITS)
    rel_end = round(end / len(text), LOCATION_DIGITS)
    # The span a reader recovers (floor of start, ceil of end) must cover the passage.
    if math.floor(rel_start * len(text)) > start or math.ceil(rel_end * len(text)) < end:
        raise ValueError(f"{where}: rounding loses the evidence span")
    return rel_start, rel_end


def longhealth_object():
    out = {}
    for patient_id, patient in LONGHEALTH.items():
        for text_id, text in patient["texts"].items():
            if not text.isascii():
                raise ValueError(f"{patient_id}/{text_id}: keep LongHealth texts ASCII")
            check_words(f"longhealth {patient_id}/{text_id}", text, 100, 250)
        questions = []
        for number, q in enumerate(patient["questions"], start=1):
            where = f"longhealth {patient_id} question {number}"
            holders = [o for o in q["options"] if q["correct"] in o]
            if len(q["options"]) != 5 or holders != [q["correct"]]:
                raise ValueError(f"{where}: `correct` must be exactly one of five options")
            location = {}
            for text_id, passages in q["evidence"].items():
                text = patient["texts"][text_id]
                starts, ends = [], []
                for passage in passages:
                    if q["correct"].lower() not in passage.lower():
                        raise ValueError(f"{where}: evidence does not state the answer")
                    s, e = relative_span(text, passage, where)
                    starts.append(s)
                    ends.append(e)
                location[text_id] = {"start": starts, "end": ends}
            entry = {"No": number, "question": q["question"]}
            for letter, option in zip("abcde", q["options"]):
                entry[f"answer_{letter}"] = option
            entry["correct"] = q["correct"]
            entry["answer_location"] = location
            questions.append(entry)
        out[patient_id] = {"texts": patient["texts"], "questions": questions}
    return out


# --------------------------------------------------------------------------------------------
# Discharge letters for MeDiSumQA and MeDiSumCode, in the section layout of US hospital
# discharge summaries. MeDiSumCode gets the whole letter; MeDiSumQA gets the letter without its
# patient-facing "Discharge Instructions" (its questions were written from that section, as
# MeDiSumQA's were). ICD-10-CM codes are written without the dot, as MIMIC-IV stores them and as
# CLUE compares them (it removes dots from predictions only).
# --------------------------------------------------------------------------------------------

LETTERS = [
    {
        "name": "Mr. John Sample",
        "admitted": "2099-01-11",
        "discharged": "2099-01-15",
        "born": "2031-04-03",
        "sex": "M",
        "service": "MEDICINE",
        "allergies": "Penicillins",
        "complaint": "Fever, productive cough and shortness of breath.",
        "procedure": "None",
        "hpi": "Mr. Sample is a 67-year-old man with COPD and hypertension who presented with "
        "three days of fever to 39.1 C, cough with green sputum and worsening shortness of "
        "breath. He smokes one pack of cigarettes per day.",
        "history": "COPD, hypertension, tobacco use.",
        "results": "WBC 15.8, CRP 142. Chest x-ray: right lower lobe consolidation. Blood "
        "cultures: no growth.",
        "course": "# Community-acquired pneumonia: treated with IV levofloxacin because of the "
        "penicillin allergy, then switched to oral levofloxacin to complete 5 days. Oxygen was "
        "weaned off by day 3.\n# COPD: no exacerbation; home tiotropium continued.\n"
        "# Hypertension: amlodipine continued.\n# Tobacco use: counseled on cessation; "
        "nicotine patch started.",
        "medications": "1. Levofloxacin 750 mg PO daily for 2 more days\n2. Tiotropium 18 mcg "
        "inhaled daily\n3. Amlodipine 5 mg PO daily\n4. Nicotine patch 21 mg/24 h daily",
        "diagnosis": "Primary: community-acquired pneumonia\nSecondary: COPD, hypertension, "
        "tobacco use",
        "instructions": "Dear Mr. Sample,\nYou were admitted to the hospital because you had a "
        "pneumonia, an infection of the right lung. You were treated with antibiotics, first "
        "through the vein and then by mouth, and your fever and breathing improved. We started "
        "a nicotine patch to help you quit smoking.",
        "followup": "Primary care physician in one week; repeat chest x-ray in six weeks.",
        "codes": ["J189", "J449", "I10", "F17210"],
        "qas": [
            (
                "Why was the patient admitted to the hospital?",
                "The patient was admitted because of a pneumonia, an infection of the right lung.",
            ),
            (
                "How was the patient's infection treated?",
                "The patient was treated with antibiotics, first through the vein and then by "
                "mouth.",
            ),
            (
                "What was started to help the patient stop smoking?",
                "A nicotine patch was started to help the patient quit smoking.",
            ),
        ],
    },
    {
        "name": "Ms. Jane Example",
        "admitted": "2099-02-03",
        "discharged": "2099-02-08",
        "born": "2024-11-20",
        "sex": "F",
        "service": "CARDIOLOGY",
        "allergies": "No Known Allergies",
        "complaint": "Shortness of breath and leg swelling.",
        "procedure": "None",
        "hpi": "Ms. Example is a 74-year-old woman with hypertension and paroxysmal atrial "
        "fibrillation on apixaban who presented with two weeks of increasing shortness of "
        "breath, needing three pillows to sleep, and swelling of both legs. She had eaten "
        "salty food at several family celebrations.",
        "history": "Hypertension, paroxysmal atrial fibrillation, osteoarthritis.",
        "results": "BNP 1240. Creatinine 1.0. Chest x-ray: bilateral pleural effusions and "
        "pulmonary edema. Echocardiogram: ejection fraction 60%, impaired relaxation, left "
        "atrial enlargement.",
        "course": "# Acute on chronic diastolic heart failure due to hypertensive heart disease: "
        "diuresed with IV furosemide, weight down 4 kg, switched to oral torsemide.\n"
        "# Paroxysmal atrial fibrillation: rate controlled with metoprolol; apixaban continued.",
        "medications": "1. Torsemide 20 mg PO daily\n2. Metoprolol succinate 50 mg PO daily\n"
        "3. Apixaban 5 mg PO twice daily\n4. Losartan 50 mg PO daily",
        "diagnosis": "Primary: acute on chronic diastolic heart failure, hypertensive heart "
        "disease\nSecondary: paroxysmal atrial fibrillation on long-term anticoagulation",
        "instructions": "Dear Ms. Example,\nYou were admitted because fluid had built up in your "
        "lungs and legs. Your heart pumps normally but is stiff and does not relax well. You "
        "received a water pill through the vein and lost about 4 kilograms of fluid.",
        "followup": "Cardiology clinic in two weeks; weigh yourself every morning.",
        "codes": ["I110", "I5033", "I480", "Z7901"],
        "qas": [
            (
                "What caused the patient's shortness of breath and leg swelling?",
                "Fluid had built up in the lungs and legs because the heart is stiff and does "
                "not relax well.",
            ),
            (
                "How was the extra fluid removed?",
                "The patient received a water pill through the vein and lost about 4 kilograms "
                "of fluid.",
            ),
            (
                "What did the heart ultrasound show?",
                "The heart pumps normally but is stiff and does not relax well.",
            ),
        ],
    },
    {
        "name": "Mr. Max Mustermann",
        "admitted": "2099-03-09",
        "discharged": "2099-03-12",
        "born": "2040-07-14",
        "sex": "M",
        "service": "CARDIOLOGY",
        "allergies": "No Known Allergies",
        "complaint": "Chest pressure.",
        "procedure": "Cardiac catheterization with drug-eluting stent to the right coronary artery",
        "hpi": "Mr. Mustermann is a 58-year-old man with type 2 diabetes and high cholesterol "
        "who had 40 minutes of chest pressure while shoveling snow. The ECG showed no ST "
        "elevation; troponin rose from 0.08 to 1.9.",
        "history": "Type 2 diabetes on metformin, hyperlipidemia.",
        "results": "Hemoglobin A1c 7.4%. LDL 148. Cardiac catheterization: 90% stenosis of the "
        "mid right coronary artery, other vessels with mild disease. Echocardiogram: ejection "
        "fraction 55%.",
        "course": "# NSTEMI: treated with heparin, aspirin and ticagrelor; drug-eluting stent "
        "placed in the mid right coronary artery on hospital day 2 without complications.\n"
        "# Coronary artery disease, hyperlipidemia: atorvastatin increased to 80 mg.\n"
        "# Type 2 diabetes: metformin restarted 48 hours after contrast.",
        "medications": "1. Aspirin 81 mg PO daily\n2. Ticagrelor 90 mg PO twice daily\n"
        "3. Atorvastatin 80 mg PO daily\n4. Metoprolol succinate 25 mg PO daily\n"
        "5. Metformin 1000 mg PO twice daily",
        "diagnosis": "Primary: non-ST elevation myocardial infarction\nSecondary: coronary "
        "artery disease, hyperlipidemia, type 2 diabetes",
        "instructions": "Dear Mr. Mustermann,\nYou had a small heart attack caused by a narrowed "
        "artery of the heart. During a catheterization a stent was placed to open the artery. "
        "We started ticagrelor and increased your atorvastatin.",
        "followup": "Cardiology clinic in one month; cardiac rehabilitation referral sent.",
        "codes": ["I214", "I2510", "E785", "E119"],
        "qas": [
            (
                "What happened to the patient's heart?",
                "The patient had a small heart attack caused by a narrowed artery of the heart.",
            ),
            (
                "What procedure was performed during the stay?",
                "A stent was placed during a catheterization to open the narrowed artery.",
            ),
            (
                "Which changes were made to the patient's medications?",
                "Ticagrelor was started and the atorvastatin dose was increased.",
            ),
        ],
    },
    {
        "name": "Ms. Greta Generic",
        "admitted": "2099-03-21",
        "discharged": "2099-03-26",
        "born": "2018-01-30",
        "sex": "F",
        "service": "MEDICINE",
        "allergies": "Sulfa (rash)",
        "complaint": "Confusion and fever.",
        "procedure": "None",
        "hpi": "Ms. Generic is an 81-year-old woman with hypothyroidism who lives with her son. "
        "She had two days of burning on urination, then fever to 38.9 C and new confusion. In "
        "the emergency department her blood pressure was 88/50 and improved with fluids.",
        "history": "Hypothyroidism, cataract surgery.",
        "results": "WBC 17.9, lactate 3.1, creatinine 2.0 (baseline 0.8). Urinalysis: positive "
        "nitrite, many white cells. Urine and blood cultures: Escherichia coli, sensitive to "
        "ceftriaxone.",
        "course": "# Sepsis due to E. coli urinary tract infection: treated with ceftriaxone, "
        "then oral cefpodoxime for a total of 10 days. Confusion resolved by day 3.\n"
        "# Acute kidney injury: prerenal, creatinine back to 0.9 with fluids.\n"
        "# Hypothyroidism: levothyroxine continued.",
        "medications": "1. Cefpodoxime 200 mg PO twice daily for 5 more days\n"
        "2. Levothyroxine 75 mcg PO daily",
        "diagnosis": "Primary: sepsis due to E. coli, urinary tract infection\nSecondary: acute "
        "kidney injury, hypothyroidism",
        "instructions": "Dear Ms. Generic,\nYou were admitted with a serious infection of the "
        "urine that spread to the blood. It was treated with antibiotics and your confusion "
        "cleared. Your kidney function returned to normal with fluids.",
        "followup": "Primary care physician in one week with repeat kidney blood tests.",
        "codes": ["A4151", "N390", "N179", "E039"],
        "qas": [],
    },
    {
        "name": "Ms. Dana Demo",
        "admitted": "2099-04-02",
        "discharged": "2099-04-04",
        "born": "2053-09-09",
        "sex": "F",
        "service": "SURGERY",
        "allergies": "No Known Allergies",
        "complaint": "Right upper abdominal pain.",
        "procedure": "Laparoscopic cholecystectomy",
        "hpi": "Ms. Demo is a 45-year-old woman with obesity and reflux who had 24 hours of "
        "constant right upper abdominal pain after a fatty meal, with nausea and a temperature "
        "of 38.2 C.",
        "history": "Obesity (BMI 33), gastroesophageal reflux disease.",
        "results": "WBC 13.4, bilirubin 0.9, lipase normal. Ultrasound: gallstones, thickened "
        "gallbladder wall, positive sonographic Murphy sign, common bile duct 4 mm.",
        "course": "# Acute calculous cholecystitis: started on IV ceftriaxone and metronidazole; "
        "laparoscopic cholecystectomy on hospital day 1 without complications. Diet advanced "
        "on the evening of surgery and tolerated well.\n# GERD: omeprazole continued.",
        "medications": "1. Acetaminophen 1000 mg PO every 8 hours as needed\n"
        "2. Omeprazole 20 mg PO daily",
        "diagnosis": "Primary: acute calculous cholecystitis\nSecondary: obesity, "
        "gastroesophageal reflux disease",
        "instructions": "Dear Ms. Demo,\nYou were admitted because your gallbladder was inflamed "
        "from gallstones. Your gallbladder was removed with a laparoscopic (keyhole) operation. "
        "There were no complications and you were eating normally after the operation.",
        "followup": "Surgery clinic in two weeks for a wound check.",
        "codes": ["K8000", "E669", "K219"],
        "qas": [
            (
                "Why was the patient admitted to the hospital?",
                "The patient was admitted because the gallbladder was inflamed from gallstones.",
            ),
            (
                "What operation did the patient have?",
                "The gallbladder was removed with a laparoscopic (keyhole) operation.",
            ),
            (
                "How did the patient recover after the operation?",
                "There were no complications and the patient was eating normally after the "
                "operation.",
            ),
        ],
    },
    {
        "name": "Mr. Tom Testcase",
        "admitted": "2099-04-15",
        "discharged": "2099-04-19",
        "born": "2037-02-25",
        "sex": "M",
        "service": "MEDICINE",
        "allergies": "No Known Allergies",
        "complaint": "Black stools and dizziness.",
        "procedure": "Upper endoscopy with clip placement",
        "hpi": "Mr. Testcase is a 62-year-old man with knee osteoarthritis who has taken "
        "ibuprofen 800 mg three times daily for months. He noticed black stools for two days "
        "and nearly fainted when standing up.",
        "history": "Bilateral knee osteoarthritis.",
        "results": "Hemoglobin 7.2 (baseline 14.0). BUN 48. Endoscopy: 1.5 cm gastric ulcer "
        "with a visible vessel, treated with clips. Gastric biopsy: Helicobacter pylori "
        "positive.",
        "course": "# Upper GI bleed from gastric ulcer: IV pantoprazole, endoscopic clips, no "
        "rebleeding. Ibuprofen stopped.\n# Acute blood loss anemia: two units of red blood "
        "cells, hemoglobin stable at 9.1.\n# H. pylori infection: started quadruple therapy "
        "for 14 days.\n# Osteoarthritis: acetaminophen instead of ibuprofen.",
        "medications": "1. Pantoprazole 40 mg PO twice daily\n2. Bismuth, metronidazole and "
        "tetracycline for 14 days\n3. Acetaminophen 1000 mg PO three times daily as needed",
        "diagnosis": "Primary: bleeding gastric ulcer, H. pylori infection\nSecondary: acute "
        "blood loss anemia, osteoarthritis of both knees, long-term NSAID use",
        "instructions": "Dear Mr. Testcase,\nYou were admitted because of bleeding from an "
        "ulcer in your stomach. The bleeding was stopped with clips during an endoscopy and "
        "you received two blood transfusions. Please do not take ibuprofen anymore.",
        "followup": "Gastroenterology clinic in 8 weeks with a breath test for H. pylori.",
        "codes": ["K254", "B9681", "D62", "M170", "Z791"],
        "qas": [],
    },
    {
        "name": "Ms. Paula Placeholder",
        "admitted": "2099-05-06",
        "discharged": "2099-05-09",
        "born": "2060-05-01",
        "sex": "F",
        "service": "MEDICINE",
        "allergies": "No Known Allergies",
        "complaint": "Vomiting and abdominal pain.",
        "procedure": "None",
        "hpi": "Ms. Placeholder is a 39-year-old woman with type 1 diabetes since childhood. "
        "She had a stomach virus for three days, could not eat and skipped her insulin doses. "
        "She then developed vomiting, abdominal pain and rapid breathing.",
        "history": "Type 1 diabetes mellitus, celiac disease.",
        "results": "Glucose 486, pH 7.14, bicarbonate 9, anion gap 26, beta-hydroxybutyrate "
        "5.8, potassium 3.3 after insulin was started. Hemoglobin A1c 8.1%.",
        "course": "# Diabetic ketoacidosis: treated in the intensive care unit with an insulin "
        "infusion, IV fluids and potassium; the anion gap closed after 18 hours and she was "
        "transitioned to her home insulin.\n# Hypokalemia: repleted.\n# Viral "
        "gastroenteritis: resolved.",
        "medications": "1. Insulin glargine 22 units subcutaneously at night\n2. Insulin "
        "lispro with meals per sliding scale",
        "diagnosis": "Primary: diabetic ketoacidosis, type 1 diabetes mellitus\nSecondary: "
        "hypokalemia",
        "instructions": "Dear Ms. Placeholder,\nYou were admitted with diabetic ketoacidosis, a "
        "dangerous buildup of acids in the blood because of too little insulin. It was "
        "triggered by a stomach virus during which you skipped insulin. You received insulin "
        "through the vein, fluids and potassium.",
        "followup": "Endocrinology clinic in two weeks; sick-day rules reviewed with the "
        "diabetes educator.",
        "codes": ["E1010", "E876"],
        "qas": [
            (
                "Why was the patient admitted to the hospital?",
                "The patient had diabetic ketoacidosis, a dangerous buildup of acids in the "
                "blood because of too little insulin.",
            ),
            (
                "What triggered the patient's condition?",
                "It was triggered by a stomach virus during which the patient skipped insulin.",
            ),
            (
                "How was the patient treated?",
                "The patient received insulin through the vein, fluids and potassium.",
            ),
        ],
    },
    {
        "name": "Mr. Fred Fictional",
        "admitted": "2099-05-18",
        "discharged": "2099-05-23",
        "born": "2029-03-17",
        "sex": "M",
        "service": "NEUROLOGY",
        "allergies": "No Known Allergies",
        "complaint": "Left arm weakness and slurred speech.",
        "procedure": "Mechanical thrombectomy of the right middle cerebral artery",
        "hpi": "Mr. Fictional is a 70-year-old man with hypertension and high cholesterol who "
        "suddenly developed weakness of the left arm and slurred speech while eating "
        "breakfast. He arrived 50 minutes after onset.",
        "history": "Hypertension, hyperlipidemia.",
        "results": "CT angiography: occlusion of the right middle cerebral artery. MRI after "
        "thrombectomy: small infarct in the right MCA territory. Telemetry: new atrial "
        "fibrillation. LDL 131.",
        "course": "# Embolic stroke of the right middle cerebral artery: IV thrombolysis and "
        "mechanical thrombectomy with full reperfusion; left arm strength almost normal at "
        "discharge.\n# New atrial fibrillation, the likely source: apixaban started on day 4.\n"
        "# Hypertension, hyperlipidemia: amlodipine continued, atorvastatin 80 mg started.",
        "medications": "1. Apixaban 5 mg PO twice daily\n2. Atorvastatin 80 mg PO daily\n"
        "3. Amlodipine 10 mg PO daily",
        "diagnosis": "Primary: embolic stroke of the right middle cerebral artery\nSecondary: "
        "atrial fibrillation, hypertension, hyperlipidemia",
        "instructions": "Dear Mr. Fictional,\nYou had a stroke caused by a blood clot in an "
        "artery of the brain. The clot was removed with a catheter and your strength came "
        "back. The clot most likely came from an irregular heart rhythm called atrial "
        "fibrillation, so we started a blood thinner.",
        "followup": "Stroke clinic in six weeks; outpatient physical therapy.",
        "codes": ["I63411", "I4891", "I10", "E785"],
        "qas": [],
    },
    {
        "name": "Ms. Mona Mock",
        "admitted": "2099-06-01",
        "discharged": "2099-06-05",
        "born": "2043-08-08",
        "sex": "F",
        "service": "MEDICINE",
        "allergies": "No Known Allergies",
        "complaint": "Red, painful right lower leg.",
        "procedure": "None",
        "hpi": "Ms. Mock is a 55-year-old woman with type 2 diabetes and obesity who scratched "
        "her right shin in the garden. Over three days the leg became red, warm, swollen and "
        "painful, and she had chills.",
        "history": "Type 2 diabetes, obesity (BMI 36), varicose veins.",
        "results": "WBC 14.2, CRP 96, glucose 242, hemoglobin A1c 8.6%. Ultrasound of the "
        "right leg: no deep vein thrombosis, no abscess.",
        "course": "# Cellulitis of the right lower leg: IV cefazolin for 3 days with clear "
        "improvement of the redness, then oral cephalexin to complete 7 days. Leg elevated.\n"
        "# Type 2 diabetes: metformin continued, empagliflozin added.\n# Obesity: dietitian "
        "consulted.",
        "medications": "1. Cephalexin 500 mg PO four times daily for 4 more days\n"
        "2. Metformin 1000 mg PO twice daily\n3. Empagliflozin 10 mg PO daily",
        "diagnosis": "Primary: cellulitis of the right lower leg\nSecondary: type 2 diabetes, "
        "obesity",
        "instructions": "Dear Ms. Mock,\nYou were admitted with a skin infection of your right "
        "leg. It improved with antibiotics through the vein, and you will finish the course "
        "with tablets. We added a new diabetes medicine because your sugars were high.",
        "followup": "Primary care physician in one week.",
        "codes": ["L03115", "E119", "E669"],
        "qas": [],
    },
    {
        "name": "Mr. Sam Synthetic",
        "admitted": "2099-06-12",
        "discharged": "2099-06-14",
        "born": "2066-10-02",
        "sex": "M",
        "service": "SURGERY",
        "allergies": "No Known Allergies",
        "complaint": "Right lower abdominal pain.",
        "procedure": "Laparoscopic appendectomy",
        "hpi": "Mr. Synthetic is a 32-year-old man with mild asthma who had pain around the "
        "navel that moved to the right lower abdomen over 18 hours, with loss of appetite and "
        "a temperature of 38.0 C.",
        "history": "Mild intermittent asthma.",
        "results": "WBC 14.9, CRP 61. CT abdomen: dilated, inflamed appendix without "
        "perforation or abscess. Pathology: acute appendicitis.",
        "course": "# Acute appendicitis: laparoscopic appendectomy on the day of admission "
        "without complications; one dose of cefazolin and metronidazole before surgery. "
        "Tolerated a regular diet the next morning.\n# Asthma: no symptoms; albuterol "
        "inhaler as needed.",
        "medications": "1. Acetaminophen 1000 mg PO every 8 hours as needed\n2. Ibuprofen "
        "400 mg PO every 8 hours as needed\n3. Albuterol inhaler 2 puffs as needed",
        "diagnosis": "Primary: acute appendicitis\nSecondary: asthma",
        "instructions": "Dear Mr. Synthetic,\nYou were admitted with an inflamed appendix. It "
        "was removed with a keyhole operation and you recovered quickly.",
        "followup": "Surgery clinic in two weeks.",
        "codes": ["K3580", "J45909"],
        "qas": [],
    },
    {
        "name": "Mr. Ivan Invented",
        "admitted": "2099-07-03",
        "discharged": "2099-07-09",
        "born": "2022-06-19",
        "sex": "M",
        "service": "MEDICINE",
        "allergies": "No Known Allergies",
        "complaint": "Worsening shortness of breath.",
        "procedure": "Non-invasive ventilation (BiPAP)",
        "hpi": "Mr. Invented is a 77-year-old man with severe COPD on 2 liters of home oxygen "
        "and hypertension. After a cold he had four days of increasing breathlessness, more "
        "sputum and wheezing, and became drowsy on the day of admission.",
        "history": "COPD on home oxygen, hypertension, former smoker.",
        "results": "Arterial blood gas on arrival: pH 7.26, pCO2 74, pO2 58. Chest x-ray: "
        "hyperinflation, no pneumonia. Respiratory viral panel: rhinovirus.",
        "course": "# Acute hypercapnic respiratory failure from COPD exacerbation: BiPAP for "
        "two days in the intensive care unit, prednisone, nebulized bronchodilators and "
        "doxycycline; back to his usual 2 liters of oxygen at discharge.\n"
        "# Hypertension: lisinopril continued.",
        "medications": "1. Prednisone 40 mg PO daily for 2 more days\n2. Doxycycline 100 mg PO "
        "twice daily for 2 more days\n3. Tiotropium and olodaterol inhaled daily\n"
        "4. Lisinopril 10 mg PO daily\n5. Home oxygen 2 liters",
        "diagnosis": "Primary: COPD exacerbation with acute hypercapnic respiratory failure\n"
        "Secondary: hypertension, dependence on home oxygen",
        "instructions": "Dear Mr. Invented,\nYou were admitted because a cold made your COPD "
        "worse and carbon dioxide built up in your blood. A breathing mask helped you breathe "
        "for two days, and steroids and inhalers improved your lungs.",
        "followup": "Pulmonary clinic in two weeks; pulmonary rehabilitation referral.",
        "codes": ["J441", "J9602", "I10", "Z9981"],
        "qas": [],
    },
    {
        "name": "Ms. Fiona Fake",
        "admitted": "2099-07-22",
        "discharged": "2099-07-25",
        "born": "2031-12-05",
        "sex": "F",
        "service": "MEDICINE",
        "allergies": "No Known Allergies",
        "complaint": "Shortness of breath and right leg swelling.",
        "procedure": "None",
        "hpi": "Ms. Fake is a 67-year-old woman treated for breast cancer ten years ago who "
        "returned from a 14-hour flight and developed swelling of the right thigh, then sudden "
        "shortness of breath and chest pain on deep breathing.",
        "history": "Left breast cancer treated with lumpectomy and radiation, in remission.",
        "results": "CT angiography: emboli in both lower lobe pulmonary arteries, normal right "
        "ventricle. Leg ultrasound: clot in the right femoral vein. Troponin normal.",
        "course": "# Pulmonary embolism and right femoral deep vein thrombosis, provoked by "
        "long travel: started on apixaban; oxygen weaned on day 2.\n# History of breast "
        "cancer: mammogram up to date; no signs of recurrence.",
        "medications": "1. Apixaban 10 mg PO twice daily for 7 days, then 5 mg twice daily",
        "diagnosis": "Primary: pulmonary embolism, deep vein thrombosis of the right femoral "
        "vein\nSecondary: history of breast cancer",
        "instructions": "Dear Ms. Fake,\nYou were admitted because blood clots from your right "
        "leg traveled to your lungs. We started a blood thinner called apixaban, which you "
        "should take for at least three months.",
        "followup": "Primary care physician in one week; hematology clinic in three months.",
        "codes": ["I2699", "I82411", "Z853"],
        "qas": [],
    },
    {
        "name": "Mr. Dan Dummy",
        "admitted": "2099-08-10",
        "discharged": "2099-08-15",
        "born": "2039-04-27",
        "sex": "M",
        "service": "MEDICINE",
        "allergies": "No Known Allergies",
        "complaint": "Tremor, sweating and anxiety.",
        "procedure": "None",
        "hpi": "Mr. Dummy is a 60-year-old man with hypertension who drinks about a liter of "
        "wine every day. He stopped drinking two days before admission and developed a "
        "tremor, sweating, anxiety and a racing heart, without seizures or hallucinations.",
        "history": "Hypertension, alcohol use disorder.",
        "results": "Sodium 126, platelets 92, AST 88, ALT 41, ethanol level zero. Liver "
        "ultrasound: fatty liver, no cirrhosis.",
        "course": "# Alcohol withdrawal: symptom-triggered lorazepam by CIWA score, thiamine "
        "and folate; no seizures; last lorazepam on day 4. Started naltrexone.\n"
        "# Hyponatremia: from low solute intake; sodium 133 at discharge.\n"
        "# Thrombocytopenia: from alcohol, platelets rising.\n# Hypertension: amlodipine.",
        "medications": "1. Naltrexone 50 mg PO daily\n2. Thiamine 100 mg PO daily\n3. Folic "
        "acid 1 mg PO daily\n4. Amlodipine 5 mg PO daily",
        "diagnosis": "Primary: alcohol withdrawal, alcohol dependence\nSecondary: "
        "hyponatremia, thrombocytopenia, hypertension",
        "instructions": "Dear Mr. Dummy,\nYou were admitted with alcohol withdrawal. You were "
        "treated with medicines that calm withdrawal symptoms and vitamins, and you did not "
        "have seizures. Your low sodium level improved.",
        "followup": "Addiction medicine clinic in one week; primary care in two weeks.",
        "codes": ["F10230", "E871", "D696", "I10"],
        "qas": [],
    },
]

LETTER_SECTIONS = [
    ("Chief Complaint", "complaint"),
    ("Major Surgical or Invasive Procedure", "procedure"),
    ("History of Present Illness", "hpi"),
    ("Past Medical History", "history"),
    ("Pertinent Results", "results"),
    ("Brief Hospital Course", "course"),
    ("Discharge Medications", "medications"),
    ("Discharge Disposition", None),
    ("Discharge Diagnosis", "diagnosis"),
    ("Discharge Condition", None),
    ("Discharge Instructions", "instructions"),
    ("Followup Instructions", "followup"),
]


def render_letter(letter, with_instructions):
    head = [
        f"Name: {letter['name']}",
        f"Admission Date: {letter['admitted']}    Discharge Date: {letter['discharged']}",
        f"Date of Birth: {letter['born']}    Sex: {letter['sex']}",
        f"Service: {letter['service']}",
        f"Allergies: {letter['allergies']}",
    ]
    parts = ["\n".join(head)]
    for title, key in LETTER_SECTIONS:
        if key == "instructions" and not with_instructions:
            continue
        if title == "Discharge Disposition":
            body = "Home"
        elif title == "Discharge Condition":
            body = "Mental status clear and coherent. Ambulatory, independent."
        else:
            body = letter[key]
        parts.append(f"{title}:\n{body}")
    return "\n\n".join(parts) + "\n"


def medisumqa_rows():
    rows = []
    for letter in LETTERS:
        text = render_letter(letter, with_instructions=False)
        for question, answer in letter["qas"]:
            rows.append(
                {"without_discharge_summary": text, "Question": question, "Answer": answer}
            )
    return rows


def medisumcode_rows(code_table):
    rows = []
    for i, letter in enumerate(LETTERS):
        text = render_letter(letter, with_instructions=True)
        check_words(f"medisumcode letter {i + 1}", text, 150, 300)
        codes = []
        for code in letter["codes"]:
            if code not in code_table or "." in code:
                raise ValueError(f"letter {i + 1}: {code} is not an ICD-10-CM code")
            codes.append({"code": code, "description": code_table[code][1]})
        rows.append({"hadm_id": f"demo-adm-{i + 1:02d}", "text": text, "icd_codes": codes})
    return rows


# --------------------------------------------------------------------------------------------
# Writers: one per official file format.
# --------------------------------------------------------------------------------------------


def check_words(where, text, low, high):
    """Demo runs use a small model on CPU: keep every input short but realistic."""
    words = len(text.split())
    if not low <= words <= high:
        raise ValueError(f"{where}: {words} words, expected {low}-{high}")


def jsonl_bytes(rows):
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def json_bytes(value):
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


def csv_bytes(rows, header):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


# A fixed instant for the xlsx document properties and zip entries, so reruns are identical.
FIXED_TIME = datetime(2099, 1, 1, 0, 0, 0)
ZIP_TIME = (2099, 1, 1, 0, 0, 0)


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    # The official MeQSum workbook names its only sheet "QS".
    sheet.title = "QS"
    sheet.append(["File", "CHQ", "Summary"])
    for row in rows:
        sheet.append([row["File"], row["CHQ"], row["Summary"]])
    props = workbook.properties
    props.title = "MeQSum demo set (synthetic)"
    props.subject = "clue-wasm demo data"
    props.description = FICTION_NOTE
    props.creator = "clue-wasm scripts/demo_data/generate.py"
    props.lastModifiedBy = props.creator
    props.created = FIXED_TIME
    raw = io.BytesIO()
    workbook.save(raw)
    # openpyxl stamps the save time into docProps/core.xml and every zip entry: rewrite both.
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    b"\\g<1>" + stamp.encode() + b"\\g<2>",
                    data,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
    return out.getvalue()


def load_code_table(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def build(code_table):
    """File name -> bytes for all six demo files."""
    mednli = mednli_rows()
    labels = [row["gold_label"] for row in mednli]
    if len({labels.count(label) for label in NLI_LABELS}) != 1:
        raise ValueError("mednli: labels must be balanced")
    meqsum = meqsum_rows()
    for row in meqsum:
        check_words(f"meqsum {row['File']}", row["CHQ"], 30, 120)
    files = {
        "mednli.jsonl": jsonl_bytes(mednli),
        "meqsum.xlsx": xlsx_bytes(meqsum),
        "probsum.csv": csv_bytes(
            probsum_rows(), ["File ID", "Subjectives", "Objectives", "Assessment", "Summary"]
        ),
        "longhealth.json": json_bytes(longhealth_object()),
        "medisumqa.json": json_bytes(medisumqa_rows()),
        "medisumcode.jsonl": jsonl_bytes(medisumcode_rows(code_table)),
    }
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    parser.add_argument("--icd-table", type=Path, default=ICD_TABLE, help="ICD-10-CM code table")
    parser.add_argument(
        "--check", action="store_true", help="compare with the files in --out instead of writing"
    )
    args = parser.parse_args()
    files = build(load_code_table(args.icd_table))
    if args.check:
        stale = [
            name
            for name, data in files.items()
            if not (args.out / name).exists() or (args.out / name).read_bytes() != data
        ]
        if stale:
            sys.exit(f"out of date: {', '.join(stale)} (rerun without --check)")
        print(f"{len(files)} demo files up to date in {args.out}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        print(f"wrote {args.out / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
