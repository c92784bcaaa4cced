//! The tasks stage against the reference's behaviour: few-shot rows per profile (CPython's
//! shuffle orders printed by Python), message assembly per chat style, LongHealth's budget and
//! draw order, answer reading (strict and flexible) and the per-example metrics.

use clue_wasm::data::{
    CodedLetter, Dataset, Example, IcdCode, Inquiry, LetterQuestion, LongHealthQuestion, NliLabel,
    NliPair, Patient, ProgressNote, Record,
};
use clue_wasm::metrics::Metric;
use clue_wasm::prompt::chat_template::{ChatTemplate, Message, Role, SpecialTokens};
use clue_wasm::tasks::{
    Answer, ChatStyle, LongHealthTask, Profile, Prompt, ReadingMode, Reference, Request, Sampling,
    TaskId, TaskSettings, TokenCounter, build_requests, read_prediction, score, task_prompt,
};

/// Counts whitespace-separated words: a stand-in tokenizer that makes budgets easy to follow.
struct Words;

impl TokenCounter for Words {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }
    fn truncate_right(&self, text: &str, max_tokens: usize) -> String {
        text.split_whitespace()
            .take(max_tokens)
            .collect::<Vec<_>>()
            .join(" ")
    }
    fn truncate_left(&self, text: &str, max_tokens: usize) -> String {
        let words: Vec<&str> = text.split_whitespace().collect();
        words[words.len().saturating_sub(max_tokens)..].join(" ")
    }
}

fn example(id: usize, record: Record) -> Example {
    Example {
        id: id.to_string(),
        line: id + 1,
        record,
    }
}

fn nli(n: usize) -> Vec<Example> {
    let labels = [
        NliLabel::Entailment,
        NliLabel::Neutral,
        NliLabel::Contradiction,
    ];
    (0..n)
        .map(|i| {
            example(
                i,
                Record::MedNli(NliPair {
                    sentence1: format!("premise {i}"),
                    sentence2: format!("hypothesis {i}"),
                    gold_label: labels[i % 3],
                }),
            )
        })
        .collect()
}

fn inquiries(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| {
            example(
                i,
                Record::MeqSum(Inquiry {
                    chq: format!("inquiry {i}"),
                    summary: format!("summary {i}?"),
                }),
            )
        })
        .collect()
}

fn ids(requests: &[Request]) -> Vec<&str> {
    requests.iter().map(|r| r.id.as_str()).collect()
}

fn paper() -> TaskSettings {
    TaskSettings::default()
}

fn current() -> TaskSettings {
    TaskSettings {
        profile: Profile::Current,
        ..TaskSettings::default()
    }
}

fn messages(request: &Request) -> &[Message] {
    match &request.prompt {
        Prompt::Chat(messages) => messages,
        Prompt::Plain(text) => panic!("expected messages, got {text:?}"),
    }
}

fn dataset(task: TaskId, examples: &[Example], patients: &[Patient]) -> Dataset {
    Dataset {
        source: "test".into(),
        task,
        examples: examples.to_vec(),
        patients: patients.to_vec(),
    }
}

fn build(task: TaskId, examples: &[Example], settings: &TaskSettings) -> Vec<Request> {
    build_requests(&dataset(task, examples, &[]), settings, &Words).unwrap()
}

fn longhealth(
    examples: &[Example],
    patients: &[Patient],
    settings: &TaskSettings,
) -> Result<Vec<Request>, clue_wasm::tasks::TaskError> {
    build_requests(
        &dataset(TaskId::LongHealth, examples, patients),
        settings,
        &Words,
    )
}

// Python: d = list(range(10)); random.seed(1); random.shuffle(d) → [6, 8, 9, 7, 5, 3, 0, 4, 1, 2]
const SHUFFLED_10: [&str; 10] = ["6", "8", "9", "7", "5", "3", "0", "4", "1", "2"];

#[test]
fn paper_profile_takes_the_first_rows_as_shots_and_evaluates_the_rest_in_file_order() {
    let requests = build(TaskId::MedNli, &nli(10), &paper());
    assert_eq!(ids(&requests), ["3", "4", "5", "6", "7", "8", "9"]);
    let messages = messages(&requests[0]);
    assert_eq!(
        messages[1].content,
        "\nSENTENCE_1: premise 0\nSENTENCE_2: hypothesis 0\n"
    );
    assert_eq!(messages[4].content, "neutral");
}

#[test]
fn current_profile_shuffles_with_seed_1_before_taking_shots() {
    let requests = build(TaskId::MedNli, &nli(10), &current());
    assert_eq!(ids(&requests), SHUFFLED_10[3..]);
    let messages = messages(&requests[0]);
    assert_eq!(
        messages[1].content,
        "\nSENTENCE_1: premise 6\nSENTENCE_2: hypothesis 6\n"
    );
    assert_eq!(
        messages[3].content,
        "\nSENTENCE_1: premise 8\nSENTENCE_2: hypothesis 8\n"
    );
    assert_eq!(
        messages[5].content,
        "\nSENTENCE_1: premise 9\nSENTENCE_2: hypothesis 9\n"
    );
}

#[test]
fn medisumqa_shuffles_in_the_paper_profile_too() {
    let letters: Vec<Example> = (0..10)
        .map(|i| {
            example(
                i,
                Record::MeDiSumQa(LetterQuestion {
                    letter: format!("letter {i}"),
                    question: format!("question {i}?"),
                    answer: format!("answer {i}"),
                }),
            )
        })
        .collect();
    let requests = build(TaskId::MeDiSumQa, &letters, &paper());
    assert_eq!(ids(&requests), SHUFFLED_10[1..]);
    let messages = messages(&requests[0]);
    assert_eq!(
        messages[1].content,
        "--------------BEGIN DISCHARGE LETTER--------------\nletter 6\n--------------END DISCHARGE LETTER--------------\nQuestion: question 6?"
    );
    assert_eq!(messages[2].content, "Answer: answer 6");
    assert_eq!(requests[0].assistant_prefix, None);

    let current = build(TaskId::MeDiSumQa, &letters, &current());
    let messages = self::messages(&current[0]);
    assert_eq!(
        messages[1].content,
        "--------------BEGIN DISCHARGE LETTER--------------\nletter 6\n--------------END DISCHARGE LETTER--------------\nquestion 6?"
    );
    assert_eq!(messages[2].content, "answer 6");
}

#[test]
fn shots_override_and_too_few_rows() {
    let settings = TaskSettings {
        shots: Some(0),
        ..paper()
    };
    let requests = build(TaskId::MedNli, &nli(4), &settings);
    assert_eq!(requests.len(), 4);
    assert_eq!(messages(&requests[0]).len(), 2);
    assert!(build(TaskId::MedNli, &nli(2), &paper()).is_empty());
}

#[test]
fn meqsum_paper_messages_prefix_and_generation() {
    let requests = build(TaskId::MeqSum, &inquiries(5), &paper());
    let request = &requests[0];
    let prompt = task_prompt(Profile::Paper, TaskId::MeqSum);
    let inquiry = |i: usize| {
        format!(
            "--------------PATIENT INQUIRY--------------\ninquiry {i}\n--------------END PATIENT INQUIRY--------------"
        )
    };
    let expected = vec![
        Message::new(Role::System, prompt.sys_prompt.clone()),
        Message::new(Role::User, inquiry(0)),
        Message::new(Role::Assistant, "Question: summary 0?"),
        Message::new(Role::User, inquiry(1)),
        Message::new(Role::Assistant, "Question: summary 1?"),
        Message::new(Role::User, inquiry(2)),
        Message::new(Role::Assistant, "Question: summary 2?"),
        Message::new(Role::User, inquiry(3)),
    ];
    assert_eq!(messages(request), expected);
    assert_eq!(request.assistant_prefix.as_deref(), Some("Question: "));
    assert_eq!(request.generation.max_new_tokens, 200);
    assert_eq!(request.generation.sampling, Sampling::Greedy);
    assert_eq!(
        request.reference,
        Reference::Text {
            text: "summary 3?".into()
        }
    );
    assert_eq!(request.max_prompt_tokens, None);

    let template = ChatTemplate::new(
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
        SpecialTokens::default(),
    )
    .unwrap();
    let text = request.render(Some(&template), &Words).unwrap();
    assert!(text.starts_with(&format!("<system>{}</system><user>", prompt.sys_prompt)));
    assert!(text.ends_with(&format!("<user>{}</user><assistant>Question: ", inquiry(3))));
}

#[test]
fn current_profile_has_no_prefix_and_samples_with_a_recorded_seed() {
    let settings = TaskSettings {
        sampling_seed: 40,
        ..current()
    };
    let requests = build(TaskId::MeqSum, &inquiries(5), &settings);
    assert_eq!(requests[0].assistant_prefix, None);
    // Python: d = list(range(5)); random.seed(1); random.shuffle(d) → [2, 3, 4, 0, 1]
    assert_eq!(ids(&requests), ["0", "1"]);
    assert_eq!(messages(&requests[0])[2].content, "summary 2?");
    assert_eq!(requests[0].generation.max_new_tokens, 512);
    assert_eq!(
        requests[1].generation.sampling,
        Sampling::Sample {
            temperature: 1.0,
            top_p: 1.0,
            seed: 41
        }
    );
}

#[test]
fn no_system_role_and_base_model_variants() {
    let examples = inquiries(4);
    let prompt = task_prompt(Profile::Paper, TaskId::MeqSum);
    let merged = build(
        TaskId::MeqSum,
        &examples,
        &TaskSettings {
            chat_style: ChatStyle::NoSystemRole,
            ..paper()
        },
    );
    let messages = messages(&merged[0]);
    assert_eq!(messages[0].role, Role::User);
    assert!(messages[0].content.starts_with(&format!(
        "{}\n\n--------------PATIENT INQUIRY",
        prompt.sys_prompt
    )));

    let base = build(
        TaskId::MeqSum,
        &examples,
        &TaskSettings {
            chat_style: ChatStyle::BaseModel,
            ..paper()
        },
    );
    let Prompt::Plain(text) = &base[0].prompt else {
        panic!("a base model gets plain text");
    };
    let inquiry = |i: usize| {
        format!(
            "--------------PATIENT INQUIRY--------------\ninquiry {i}\n--------------END PATIENT INQUIRY--------------"
        )
    };
    let expected = format!(
        "{}\n\n{}\n\nQuestion: summary 0?\n\n{}\n\nQuestion: summary 1?\n\n{}\n\nQuestion: summary 2?\n\n{}\n\n",
        prompt.sys_prompt,
        inquiry(0),
        inquiry(1),
        inquiry(2),
        inquiry(3)
    );
    assert_eq!(text, &expected);
    assert_eq!(
        base[0].render(None, &Words).unwrap(),
        format!("{expected}Question: ")
    );
    assert!(
        merged[0].render(None, &Words).is_err(),
        "chat messages need a template"
    );
}

#[test]
fn paper_profile_truncates_from_the_left_to_the_context() {
    let settings = TaskSettings {
        context_size: Some(230),
        chat_style: ChatStyle::BaseModel,
        ..paper()
    };
    let meqsum = build(TaskId::MeqSum, &inquiries(4), &settings);
    assert_eq!(meqsum[0].max_prompt_tokens, Some(30));
    let text = meqsum[0].render(None, &Words).unwrap();
    assert_eq!(Words.count(&text), 30);
    assert!(text.ends_with("inquiry 3 --------------END PATIENT INQUIRY-------------- Question:"));

    let mednli = build(TaskId::MedNli, &nli(4), &settings);
    assert_eq!(
        mednli[0].max_prompt_tokens,
        Some(30),
        "MedNLI keeps 200 tokens of room"
    );
    assert_eq!(mednli[0].generation.max_new_tokens, 20);
    assert_eq!(
        build(
            TaskId::MedNli,
            &nli(4),
            &TaskSettings {
                context_size: Some(230),
                ..current()
            }
        )[0]
        .max_prompt_tokens,
        None
    );
}

#[test]
fn probsum_summaries_replace_semicolons_in_shots_and_references() {
    let notes: Vec<Example> = (0..4)
        .map(|i| {
            example(
                i,
                Record::ProbSum(ProgressNote {
                    subjectives: format!("S{i}"),
                    objectives: format!("O{i}"),
                    assessment: format!("A{i}"),
                    summary: "sepsis;pneumonia;".into(),
                }),
            )
        })
        .collect();
    let requests = build(TaskId::ProbSum, &notes, &paper());
    let messages = messages(&requests[0]);
    assert_eq!(
        messages[1].content,
        "--------------BEGIN DISCHARGE LETTER--------------\nS0\n\nA0\n--------------END DISCHARGE LETTER--------------\nNow respond with the list of diagnoses and patient problems. Do not generate anything else."
    );
    assert_eq!(
        messages[2].content,
        "Diagnoses/Patient problems: sepsis, pneumonia"
    );
    assert_eq!(
        requests[0].reference,
        Reference::Text {
            text: "sepsis, pneumonia".into()
        }
    );
    assert_eq!(
        requests[0].assistant_prefix.as_deref(),
        Some("Diagnoses/Patient problems: ")
    );
    assert_eq!(requests[0].generation.max_new_tokens, 100);

    let compat = build(
        TaskId::ProbSum,
        &notes,
        &TaskSettings {
            compat: true,
            ..paper()
        },
    );
    assert_eq!(
        compat[0].reference,
        Reference::Text {
            text: "sepsis, pneumonia, ".into()
        }
    );
}

#[test]
fn medisumcode_shot_lists_the_gold_codes() {
    let letters: Vec<Example> = (0..3)
        .map(|i| {
            example(
                i,
                Record::MeDiSumCode(CodedLetter {
                    text: format!("letter {i}"),
                    codes: ["I10", "E119"]
                        .map(|code| IcdCode {
                            code: code.into(),
                            description: String::new(),
                        })
                        .to_vec(),
                }),
            )
        })
        .collect();
    let requests = build(TaskId::MeDiSumCode, &letters, &paper());
    assert_eq!(ids(&requests), ["1", "2"]);
    assert_eq!(messages(&requests[0])[2].content, "ICD-10 Codes: I10, E119");
    assert_eq!(
        requests[0].assistant_prefix.as_deref(),
        Some("ICD-10 Codes: ")
    );
    assert_eq!(
        requests[0].reference,
        Reference::Codes {
            codes: vec!["I10".into(), "E119".into()]
        }
    );
}

#[test]
fn llama3_gets_stop_sequences_in_the_paper_profile() {
    let settings = TaskSettings {
        model_name: "meta-llama/Meta-Llama-3-8B-Instruct".into(),
        ..paper()
    };
    let requests = build(TaskId::MedNli, &nli(4), &settings);
    assert!(
        requests[0]
            .generation
            .stop_sequences
            .contains(&"<|eot_id|>".to_owned())
    );
    assert!(
        build(TaskId::MedNli, &nli(4), &paper())[0]
            .generation
            .stop_sequences
            .is_empty()
    );
}

fn read(
    task: TaskId,
    reference: Reference,
    raw: &str,
    settings: &TaskSettings,
    mode: ReadingMode,
) -> Answer {
    let request = Request {
        task,
        id: "x".into(),
        prompt: Prompt::Plain(String::new()),
        assistant_prefix: None,
        max_prompt_tokens: None,
        generation: clue_wasm::tasks::GenerationSettings {
            max_new_tokens: 1,
            sampling: Sampling::Greedy,
            stop_sequences: vec![],
        },
        reference,
    };
    read_prediction(&request, raw, settings, mode).answer
}

#[test]
fn mednli_reading_table() {
    use NliLabel::*;
    let label = Reference::Label { label: Entailment };
    let cases: [(&str, &[NliLabel], &[NliLabel]); 6] = [
        ("ENTAILMENT", &[Entailment], &[Entailment]),
        ("The relation is entailment.", &[Entailment], &[Entailment]),
        (
            "entailment, not neutral",
            &[Entailment, Neutral],
            &[Entailment],
        ),
        ("Entailment? Entailment.", &[], &[Entailment]),
        (
            "neutral then contradiction",
            &[Neutral, Contradiction],
            &[Neutral],
        ),
        ("I cannot tell.", &[], &[]),
    ];
    for (raw, strict, flexible) in cases {
        let read_as = |mode| match read(TaskId::MedNli, label.clone(), raw, &paper(), mode) {
            Answer::Labels { labels } => labels,
            other => panic!("{other:?}"),
        };
        assert_eq!(read_as(ReadingMode::Strict), strict, "strict {raw:?}");
        assert_eq!(read_as(ReadingMode::Flexible), flexible, "flexible {raw:?}");
    }
}

#[test]
fn paper_clean_up_removes_self_prompting_line_by_line_and_cuts_phi() {
    let label = Reference::Label {
        label: NliLabel::Neutral,
    };
    // Without DOTALL the removal stops at the newline, so the next line survives.
    let raw = "NEUTRAL You are an AI assistant. ENTAILMENT\nCONTRADICTION [INST] NEUTRAL";
    let request_answer = read(
        TaskId::MedNli,
        label.clone(),
        raw,
        &paper(),
        ReadingMode::Strict,
    );
    assert_eq!(
        request_answer,
        Answer::Labels {
            labels: vec![NliLabel::Neutral, NliLabel::Contradiction]
        }
    );
    // The current profile reads the raw text.
    assert_eq!(
        read(
            TaskId::MedNli,
            label.clone(),
            raw,
            &current(),
            ReadingMode::Strict
        ),
        Answer::Labels {
            labels: vec![NliLabel::Entailment, NliLabel::Contradiction]
        }
    );
    let phi = TaskSettings {
        model_name: "microsoft/Phi-3-mini-4k-instruct".into(),
        ..paper()
    };
    assert_eq!(
        read(
            TaskId::MeqSum,
            Reference::Text {
                text: String::new()
            },
            "What dose? <|end|> Extra",
            &phi,
            ReadingMode::Strict
        ),
        Answer::Text {
            text: "What dose?".into()
        }
    );
    assert_eq!(
        read(
            TaskId::MeDiSumQa,
            Reference::Text {
                text: String::new()
            },
            "  It is fine. \n",
            &paper(),
            ReadingMode::Strict
        ),
        Answer::Text {
            text: "It is fine.".into()
        }
    );
    assert_eq!(
        read(
            TaskId::MeqSum,
            Reference::Text {
                text: String::new()
            },
            "Question: What dose?",
            &paper(),
            ReadingMode::Flexible
        ),
        Answer::Text {
            text: "What dose?".into()
        }
    );
}

#[test]
fn longhealth_reading_table() {
    let choice = Reference::Choice {
        task: LongHealthTask::Task1,
        letter: 'C',
    };
    let cases = [
        (
            "The correct answer is C: Acute bronchitis.",
            Some('C'),
            Some('C'),
        ),
        ("the correct answer is C: lower case", None, Some('C')),
        (
            "The correct answer is C (Acute bronchitis)",
            None,
            Some('C'),
        ),
        ("C: Acute bronchitis", None, Some('C')),
        (
            "The correct answer is B: x. The correct answer is C: y.",
            Some('B'),
            Some('B'),
        ),
        ("The correct answer is É: accent", Some('É'), Some('É')),
        ("No idea.", None, None),
    ];
    for (raw, strict, flexible) in cases {
        for (mode, expected) in [
            (ReadingMode::Strict, strict),
            (ReadingMode::Flexible, flexible),
        ] {
            assert_eq!(
                read(TaskId::LongHealth, choice.clone(), raw, &paper(), mode),
                Answer::Letter { letter: expected },
                "{mode:?} {raw:?}"
            );
        }
    }
}

#[test]
fn medisumcode_reading_table() {
    let codes = Reference::Codes { codes: vec![] };
    let cases: [(&str, &[&str], &[&str]); 5] = [
        (
            "ICD-10 Codes: I10, E11.9, J18.9",
            &["I10", "E119", "J189"],
            &["I10", "E119", "J189"],
        ),
        ("U07.1 is not read", &[], &[]),
        ("i10 and e11.9", &[], &["I10", "E119"]),
        // Backtracking gives up the suffix to find a word boundary after A00, as Python's does.
        (
            "Z99.89X1 and A00.12345",
            &["Z9989X1", "A00"],
            &["Z9989X1", "A00"],
        ),
        ("none", &[], &[]),
    ];
    for (raw, strict, flexible) in cases {
        for (mode, expected) in [
            (ReadingMode::Strict, strict),
            (ReadingMode::Flexible, flexible),
        ] {
            let expected: Vec<String> = expected.iter().map(|c| c.to_string()).collect();
            assert_eq!(
                read(TaskId::MeDiSumCode, codes.clone(), raw, &paper(), mode),
                Answer::Codes { codes: expected },
                "{mode:?} {raw:?}"
            );
        }
    }
}

#[test]
fn per_example_metrics() {
    let mut request = build(TaskId::MeqSum, &inquiries(4), &paper()).remove(0);
    let prediction = read_prediction(&request, "summary 3?", &paper(), ReadingMode::Strict);
    let scores = score(&prediction, &request.reference).unwrap();
    let keys: Vec<Metric> = scores.keys().copied().collect();
    assert_eq!(
        keys,
        [
            Metric::Rouge1,
            Metric::Rouge2,
            Metric::RougeL,
            Metric::RougeLsum
        ]
    );
    assert!(scores.values().all(|&v| v == 1.0));

    request.reference = Reference::Label {
        label: NliLabel::Neutral,
    };
    assert!(
        score(&prediction, &request.reference).is_err(),
        "text answers need a text reference"
    );

    let nli_request = build(TaskId::MedNli, &nli(4), &paper()).remove(0);
    assert_eq!(
        nli_request.reference,
        Reference::Label {
            label: NliLabel::Entailment
        }
    );
    let right = read_prediction(&nli_request, "entailment", &paper(), ReadingMode::Strict);
    assert_eq!(
        score(&right, &nli_request.reference).unwrap()[&Metric::Accuracy],
        1.0
    );
    let wrong = read_prediction(&nli_request, "neutral", &paper(), ReadingMode::Strict);
    assert_eq!(
        score(&wrong, &nli_request.reference).unwrap()[&Metric::Accuracy],
        0.0
    );

    let coded = Request {
        task: TaskId::MeDiSumCode,
        reference: Reference::Codes {
            codes: vec!["I10".into(), "E119".into()],
        },
        ..nli_request.clone()
    };
    let prediction = read_prediction(&coded, "I10, E11.8", &paper(), ReadingMode::Strict);
    let scores = score(&prediction, &coded.reference).unwrap();
    assert_eq!(scores[&Metric::IcdEmP], 0.5);
    assert_eq!(scores[&Metric::IcdApF1], 1.0);
    assert!(!scores.contains_key(&Metric::BertscoreF1));
}

// ---- LongHealth ----

const SEP: &str = "\n\n--------------\n\n";

fn words(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix}{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn longhealth_question(patient: &str, answer_ids: &[&str]) -> Example {
    Example {
        id: format!("{patient}/1"),
        line: 1,
        record: Record::LongHealth(LongHealthQuestion {
            patient_id: patient.into(),
            number: "1".into(),
            question: "Which drug?".into(),
            options: ["Aspirin", "Heparin", "Warfarin", "None", "Both"].map(str::to_owned),
            correct: "Heparin".into(),
            answer_text_ids: answer_ids.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

fn patient(id: &str, texts: &[(&str, String)]) -> Patient {
    Patient {
        id: id.into(),
        texts: texts
            .iter()
            .map(|(t, text)| (t.to_string(), text.clone()))
            .collect(),
    }
}

/// The budget that leaves `documents` tokens for documents once the system prompt, template,
/// question and options are counted.
fn budget_for(documents: usize) -> usize {
    let prompt = task_prompt(Profile::Paper, TaskId::LongHealth);
    let options = "A: Aspirin\nB: Heparin\nC: Warfarin\nD: None\nE: Both";
    Words.count(&prompt.sys_prompt)
        + Words.count(prompt.prompt_template.as_deref().unwrap())
        + Words.count("Which drug?")
        + Words.count(options)
        + documents
}

fn documents_of(request: &Request) -> String {
    let user = &messages(request)[1].content;
    let start = user
        .find("--------------BEGIN DOCUMENTS--------------\n\n")
        .unwrap()
        + 45;
    let end = user.find("\n\n--------------END DOCUMENTS").unwrap();
    user[start..end].to_owned()
}

#[test]
fn longhealth_fills_the_budget_answer_documents_first() {
    let patients = [patient(
        "p1",
        &[
            ("t1", words("a", 10)),
            ("t2", words("b", 8)),
            ("t3", words("c", 20)),
        ],
    )];
    let examples = [longhealth_question("p1", &["t1"])];
    let settings = TaskSettings {
        longhealth_budget: budget_for(30),
        ..paper()
    };
    let requests = longhealth(&examples, &patients, &settings).unwrap();
    assert_eq!(requests.len(), 15);
    let task1 = &requests[0];
    assert_eq!(task1.id, "p1/1/t1/i0");
    assert_eq!(
        task1.reference,
        Reference::Choice {
            task: LongHealthTask::Task1,
            letter: 'B'
        }
    );
    // a0..a9 (10) + separator (4) + b0..b7 (8) + separator (4) = 26: c is cut to 4 tokens.
    let documents = documents_of(task1);
    let mut parts: Vec<&str> = documents.split(SEP).collect();
    parts.sort();
    assert_eq!(parts, [words("a", 10), words("b", 8), words("c", 4)]);
}

#[test]
fn longhealth_cuts_an_answer_document_that_does_not_fit_and_stops() {
    let patients = [patient(
        "p1",
        &[("t1", words("a", 40)), ("t2", words("b", 8))],
    )];
    let examples = [longhealth_question("p1", &["t1"])];
    let settings = TaskSettings {
        longhealth_budget: budget_for(30),
        ..paper()
    };
    let requests = longhealth(&examples, &patients, &settings).unwrap();
    let documents = documents_of(&requests[0]);
    let mut parts: Vec<&str> = documents.split(SEP).collect();
    parts.sort();
    // As in the reference, the distractor after the cut is cut to nothing: an empty document.
    assert_eq!(parts, ["".to_owned(), words("a", 30)]);
}

#[test]
fn longhealth_draws_in_the_reference_order() {
    let text = |name: &str| format!("document {name}");
    let patients = [
        patient(
            "p1",
            &[("t1", text("t1")), ("t2", text("t2")), ("t3", text("t3"))],
        ),
        patient(
            "p2",
            &[("u1", text("u1")), ("u2", text("u2")), ("u3", text("u3"))],
        ),
    ];
    let examples = [longhealth_question("p1", &["t1"])];
    let requests = longhealth(&examples, &patients, &paper()).unwrap();
    let order = |request: &Request| -> Vec<String> {
        documents_of(request)
            .split(SEP)
            .map(|d| d.trim_start_matches("document ").to_owned())
            .collect()
    };
    // Python: random.seed(1); five shuffles of [t1, t2, t3]; then per j: random.sample(pool, 3)
    // and a shuffle of (answer documents if j is odd) + the sample.
    let task1 = [
        ["t2", "t3", "t1"],
        ["t3", "t1", "t2"],
        ["t1", "t3", "t2"],
        ["t1", "t3", "t2"],
        ["t2", "t3", "t1"],
    ];
    for (j, expected) in task1.iter().enumerate() {
        assert_eq!(order(&requests[j]), expected, "task 1 prompt {j}");
    }
    let pool: [&[&str]; 10] = [
        &["u3", "u2", "u1"],
        &["u1", "t1", "u2", "u3"],
        &["u1", "u3", "u2"],
        &["u2", "u3", "u1", "t1"],
        &["u1", "u2", "u3"],
        &["u2", "u3", "t1", "u1"],
        &["u3", "u1", "u2"],
        &["t1", "u2", "u3", "u1"],
        &["u2", "u3", "u1"],
        &["u2", "t1", "u1", "u3"],
    ];
    for (j, expected) in pool.iter().enumerate() {
        let request = &requests[5 + j];
        assert_eq!(order(request), *expected, "iteration {j}");
        let (task, letter) = if j % 2 == 0 {
            (LongHealthTask::Task3, 'F')
        } else {
            (LongHealthTask::Task2, 'B')
        };
        assert_eq!(request.reference, Reference::Choice { task, letter });
        assert_eq!(request.id, format!("p1/1/t{}/i{j}", task.number()));
        assert!(
            messages(request)[1]
                .content
                .contains("\nF: Question cannot be answered with provided documents\n")
        );
    }
    let other_seed = TaskSettings {
        longhealth_seed: 2,
        ..paper()
    };
    let reseeded = longhealth(&examples, &patients, &other_seed).unwrap();
    assert_ne!(
        (0..15).map(|i| order(&reseeded[i])).collect::<Vec<_>>(),
        (0..15).map(|i| order(&requests[i])).collect::<Vec<_>>()
    );
}

#[test]
fn longhealth_chat_styles_and_errors() {
    let patients = [patient("p1", &[("t1", "one".into())])];
    let examples = [longhealth_question("p1", &["t1"])];
    let prompt = task_prompt(Profile::Paper, TaskId::LongHealth);
    let merged = longhealth(
        &examples,
        &patients,
        &TaskSettings {
            chat_style: ChatStyle::NoSystemRole,
            ..paper()
        },
    )
    .unwrap();
    let user = &messages(&merged[0])[0].content;
    assert!(user.starts_with(&format!(
        "{}\n--------------BEGIN DOCUMENTS",
        prompt.sys_prompt
    )));
    let base = longhealth(
        &examples,
        &patients,
        &TaskSettings {
            chat_style: ChatStyle::BaseModel,
            ..paper()
        },
    )
    .unwrap();
    let Prompt::Plain(text) = &base[0].prompt else {
        panic!("plain text expected");
    };
    assert!(text.starts_with(&format!(
        "{}\n\n\n\n--------------BEGIN DOCUMENTS",
        prompt.sys_prompt
    )));

    let unknown_text = [longhealth_question("p1", &["t9"])];
    assert!(longhealth(&unknown_text, &patients, &paper()).is_err());
    let unknown_patient = [longhealth_question("p7", &["t1"])];
    assert!(longhealth(&unknown_patient, &patients, &paper()).is_err());
    let wrong_task = dataset(TaskId::MedNli, &unknown_patient, &patients);
    assert!(build_requests(&wrong_task, &paper(), &Words).is_err());
}

#[test]
fn longhealth_paper_task1_truncates_and_tasks_2_3_do_not() {
    let patients = [
        patient("p1", &[("t1", "one".into())]),
        patient("p2", &[("u1", "two".into())]),
    ];
    let examples = [longhealth_question("p1", &["t1"])];
    let settings = TaskSettings {
        context_size: Some(4096),
        ..paper()
    };
    let requests = longhealth(&examples, &patients, &settings).unwrap();
    assert_eq!(requests[0].max_prompt_tokens, Some(4046));
    assert_eq!(requests[5].max_prompt_tokens, None);
    assert_eq!(requests[0].generation.max_new_tokens, 50);
}
