//! BERTScore against the `bert_score` package: P/R/F1 of all 1,000 MeQSum Summary/CHQ pairs
//! with all-MiniLM-L6-v2 at layers 4 and 6 equal its golden values to 1e-4, and its edge cases
//! (empty and truncated texts). Goldens: tests/golden/bertscore/generate.py. The model formats
//! hub BERTs ship in: `pytorch_model.bin` (zip and legacy, written here and by PyTorch:
//! tests/golden/bertscore/make_tiny_bert.py) loads to the embeddings of `model.safetensors`, and
//! `vocab.txt` alone tokenizes as `tokenizer.json` and transformers do.
#![cfg(not(target_arch = "wasm32"))]

use clue_wasm::data::{self, Record};
use clue_wasm::metrics::bertscore::{BertScoreOptions, BertScorer, EmbeddedText};
use clue_wasm::model::Backend;
use serde::Deserialize;

const MODEL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-MiniLM-L6-v2");
const MEQSUM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
);

#[derive(Deserialize)]
struct Golden {
    meqsum: Triples,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Triples {
    #[serde(rename = "P")]
    p: Vec<f64>,
    #[serde(rename = "R")]
    r: Vec<f64>,
    #[serde(rename = "F1")]
    f1: Vec<f64>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    candidate: String,
    reference: String,
    #[serde(rename = "P")]
    p: f64,
    #[serde(rename = "R")]
    r: f64,
    #[serde(rename = "F1")]
    f1: f64,
}

fn golden(layer: usize) -> Golden {
    let path = format!(
        "{}/tests/golden/bertscore/bertscore-minilm-L{layer}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn model_files() -> Vec<(String, Vec<u8>)> {
    [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors",
    ]
    .iter()
    .map(|name| {
        let path = format!("{MODEL_DIR}/{name}");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{path}: {e}; run scripts/setup to fetch the BERTScore test model")
        });
        (name.to_string(), bytes)
    })
    .collect()
}

fn meqsum_pairs() -> (Vec<String>, Vec<String>) {
    let bytes = std::fs::read(MEQSUM).unwrap();
    let dataset = data::read("meqsum.xlsx", &bytes, None).unwrap();
    dataset
        .examples
        .iter()
        .map(|e| match &e.record {
            Record::MeqSum(row) => (row.summary.clone(), row.chq.clone()),
            other => panic!("not a MeQSum row: {other:?}"),
        })
        .unzip()
}

fn check_layer(layer: usize) {
    let scorer = pollster::block_on(BertScorer::from_hf_directory(
        "all-MiniLM-L6-v2",
        &model_files(),
        layer,
        Backend::Cpu,
    ))
    .unwrap();
    let golden = golden(layer);
    let (candidates, references) = meqsum_pairs();
    assert_eq!(candidates.len(), golden.meqsum.f1.len());
    let cands: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let refs: Vec<&str> = references.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let scores =
        pollster::block_on(scorer.score(&cands, &refs, BertScoreOptions::default())).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let mut worst: f64 = 0.0;
    for (i, s) in scores.iter().enumerate() {
        for (ours, theirs, what) in [
            (s.precision, golden.meqsum.p[i], "P"),
            (s.recall, golden.meqsum.r[i], "R"),
            (s.f1, golden.meqsum.f1[i], "F1"),
        ] {
            let gap = (ours - theirs).abs();
            worst = worst.max(gap);
            assert!(
                gap <= 1e-4,
                "layer {layer}, row {i}, {what}: {ours} vs {theirs}"
            );
        }
    }
    println!(
        "layer {layer}: 1,000 pairs, largest difference from bert_score {worst:.2e}, {seconds:.1} s"
    );
    for case in &golden.cases {
        let s = pollster::block_on(scorer.score(
            &[&case.candidate],
            &[&case.reference],
            BertScoreOptions::default(),
        ))
        .unwrap()[0];
        for (ours, theirs, what) in [
            (s.precision, case.p, "P"),
            (s.recall, case.r, "R"),
            (s.f1, case.f1, "F1"),
        ] {
            assert!(
                (ours - theirs).abs() <= 1e-4,
                "layer {layer}, case {:?}, {what}: {ours} vs {theirs}",
                case.name
            );
        }
    }
}

#[test]
fn meqsum_pairs_match_bert_score_at_layer_4() {
    check_layer(4);
}

#[test]
fn meqsum_pairs_match_bert_score_at_layer_6() {
    check_layer(6);
}

/// The files of a Hugging Face directory on disk, by their base names.
fn directory_files(dir: &str, names: &[&str]) -> Vec<(String, Vec<u8>)> {
    names
        .iter()
        .map(|name| {
            let path = format!("{dir}/{name}");
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            (name.to_string(), bytes)
        })
        .collect()
}

fn scorer(name: &str, files: &[(String, Vec<u8>)], layer: usize) -> BertScorer {
    pollster::block_on(BertScorer::from_hf_directory(
        name,
        files,
        layer,
        Backend::Cpu,
    ))
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn embed(scorer: &BertScorer, texts: &[&str]) -> Vec<EmbeddedText> {
    pollster::block_on(scorer.embed(texts)).unwrap()
}

/// Writes a state dict as `torch.save` does (zip format): `archive/data.pkl`, a protocol-2
/// pickle of `{name: torch._utils._rebuild_tensor_v2(storage, 0, shape, stride, False,
/// OrderedDict())}` whose storages are persistent ids `('storage', torch.FloatStorage (or
/// LongStorage), key, 'cpu', numel)`, and each storage's little-endian bytes in `archive/data/KEY`. This is the
/// test's converter from model.safetensors to pytorch_model.bin, so the test needs no Python
/// (tests/golden/bertscore/convert_to_pytorch_bin.py does the same with PyTorch itself).
mod torch_save {
    use std::io::Write;

    use safetensors::SafeTensors;
    use zip::write::SimpleFileOptions;

    fn unicode(pickle: &mut Vec<u8>, text: &str) {
        pickle.push(b'X'); // BINUNICODE
        pickle.extend((text.len() as u32).to_le_bytes());
        pickle.extend(text.as_bytes());
    }

    fn int(pickle: &mut Vec<u8>, value: usize) {
        pickle.push(b'J'); // BININT
        pickle.extend((value as i32).to_le_bytes());
    }

    fn global(pickle: &mut Vec<u8>, module: &str, name: &str) {
        pickle.push(b'c'); // GLOBAL
        pickle.extend(format!("{module}\n{name}\n").as_bytes());
    }

    fn tuple(pickle: &mut Vec<u8>, values: &[usize]) {
        pickle.push(b'('); // MARK
        for &v in values {
            int(pickle, v);
        }
        pickle.push(b't'); // TUPLE
    }

    /// The bytes of pytorch_model.bin holding the f32 tensors of `safetensors`.
    pub fn from_safetensors(safetensors: &[u8]) -> Vec<u8> {
        let tensors = SafeTensors::deserialize(safetensors).unwrap();
        let mut names: Vec<String> = tensors.names().into_iter().map(str::to_owned).collect();
        names.sort();
        let mut pickle = vec![0x80, 2, b'}', b'(']; // PROTO 2, EMPTY_DICT, MARK
        let mut storages = Vec::new();
        for (key, name) in names.iter().enumerate() {
            let view = tensors.tensor(name).unwrap();
            // MiniLM's position_ids buffer is int64: a LongStorage the reader skips.
            let storage = match view.dtype() {
                safetensors::Dtype::F32 => "FloatStorage",
                safetensors::Dtype::I64 => "LongStorage",
                other => panic!("{name}: {other:?}"),
            };
            let shape = view.shape().to_vec();
            let numel: usize = shape.iter().product();
            let mut stride = vec![1; shape.len()];
            for i in (0..shape.len().saturating_sub(1)).rev() {
                stride[i] = stride[i + 1] * shape[i + 1];
            }
            unicode(&mut pickle, name);
            global(&mut pickle, "torch._utils", "_rebuild_tensor_v2");
            pickle.extend(b"((");
            unicode(&mut pickle, "storage");
            global(&mut pickle, "torch", storage);
            unicode(&mut pickle, &key.to_string());
            unicode(&mut pickle, "cpu");
            int(&mut pickle, numel);
            pickle.extend(b"tQ"); // TUPLE, BINPERSID
            int(&mut pickle, 0);
            tuple(&mut pickle, &shape);
            tuple(&mut pickle, &stride);
            pickle.push(0x89); // NEWFALSE: requires_grad
            global(&mut pickle, "collections", "OrderedDict");
            pickle.extend(b")R"); // EMPTY_TUPLE, REDUCE: OrderedDict()
            pickle.extend(b"tR"); // TUPLE, REDUCE: the tensor
            storages.push((key, view.data().to_vec()));
        }
        pickle.extend(b"u."); // SETITEMS, STOP
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let mut entry = |name: &str, bytes: &[u8]| {
            zip.start_file(format!("archive/{name}"), stored).unwrap();
            zip.write_all(bytes).unwrap();
        };
        entry("data.pkl", &pickle);
        entry("byteorder", b"little");
        for (key, bytes) in &storages {
            entry(&format!("data/{key}"), bytes);
        }
        entry("version", b"3\n");
        zip.finish().unwrap().into_inner()
    }
}

#[test]
fn pytorch_model_bin_loads_to_the_embeddings_of_model_safetensors() {
    let safetensors_dir = model_files();
    let safetensors = &safetensors_dir
        .iter()
        .find(|(name, _)| name == "model.safetensors")
        .unwrap()
        .1;
    let mut pytorch_dir: Vec<(String, Vec<u8>)> = safetensors_dir
        .iter()
        .filter(|(name, _)| name != "model.safetensors")
        .cloned()
        .collect();
    pytorch_dir.push((
        "pytorch_model.bin".into(),
        torch_save::from_safetensors(safetensors),
    ));
    let (_, chqs) = meqsum_pairs();
    let texts: Vec<&str> = chqs.iter().take(50).map(String::as_str).collect();
    let from_safetensors = embed(&scorer("minilm", &safetensors_dir, 6), &texts);
    let from_pytorch = embed(&scorer("minilm-pt", &pytorch_dir, 6), &texts);
    assert_eq!(from_safetensors.len(), 50);
    assert!(
        from_safetensors == from_pytorch,
        "embeddings from pytorch_model.bin differ from model.safetensors"
    );
}

const TINY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/bertscore/tiny-bert"
);

#[derive(Deserialize)]
struct TinyExpected {
    layer: usize,
    texts: Vec<TinyText>,
}

#[derive(Deserialize)]
struct TinyText {
    text: String,
    slow_ids: Vec<u32>,
    fast_ids: Vec<u32>,
    vectors: Vec<f32>,
}

#[test]
fn pytorch_files_written_by_torch_load_as_transformers_reads_them() {
    let expected: TinyExpected =
        serde_json::from_slice(&std::fs::read(format!("{TINY}/expected.json")).unwrap()).unwrap();
    let texts: Vec<&str> = expected.texts.iter().map(|t| t.text.as_str()).collect();
    let legacy_dir = format!("{TINY}/legacy");
    let mut legacy = directory_files(TINY, &["config.json", "vocab.txt"]);
    legacy.extend(directory_files(&legacy_dir, &["pytorch_model.bin"]));
    let directories = [
        (
            "safetensors",
            directory_files(TINY, &["config.json", "vocab.txt", "model.safetensors"]),
        ),
        (
            "zip pytorch_model.bin",
            directory_files(TINY, &["config.json", "vocab.txt", "pytorch_model.bin"]),
        ),
        ("legacy pytorch_model.bin, bert.*, gamma/beta", legacy),
    ];
    let mut embedded = Vec::new();
    for (what, files) in &directories {
        let scorer = scorer(what, files, expected.layer);
        for t in &expected.texts {
            let ids = scorer.encode(&t.text).unwrap();
            assert_eq!(
                ids, t.slow_ids,
                "{what}: ids of {:?} (BertTokenizer)",
                t.text
            );
            assert_eq!(
                ids, t.fast_ids,
                "{what}: ids of {:?} (BertTokenizerFast)",
                t.text
            );
        }
        let vectors = embed(&scorer, &texts);
        for (ours, theirs) in vectors.iter().zip(&expected.texts) {
            assert_eq!(ours.vectors.len(), theirs.vectors.len(), "{what}");
            for (a, b) in ours.vectors.iter().zip(&theirs.vectors) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{what}, {:?}: {a} vs transformers' {b}",
                    theirs.text
                );
            }
        }
        embedded.push(vectors);
    }
    assert!(embedded[0] == embedded[1], "zip checkpoint differs");
    assert!(embedded[0] == embedded[2], "legacy checkpoint differs");
}

#[test]
fn vocab_txt_alone_tokenizes_as_tokenizer_json_on_every_meqsum_text() {
    let with_json = model_files();
    let mut vocab_only: Vec<(String, Vec<u8>)> = with_json
        .iter()
        .filter(|(name, _)| name != "tokenizer.json")
        .cloned()
        .collect();
    vocab_only.extend(directory_files(MODEL_DIR, &["vocab.txt"]));
    let from_json = scorer("minilm", &with_json, 0);
    let from_vocab = scorer("minilm-vocab", &vocab_only, 0);
    let (summaries, chqs) = meqsum_pairs();
    let mut texts = 0;
    for text in summaries.iter().chain(&chqs) {
        assert_eq!(
            from_vocab.encode(text).unwrap(),
            from_json.encode(text).unwrap(),
            "{text:?}"
        );
        texts += 1;
    }
    assert_eq!(texts, 2000);
}

#[test]
fn a_damaged_pytorch_model_bin_is_an_error_naming_the_file() {
    let legacy = format!("{TINY}/legacy");
    for dir in [TINY, legacy.as_str()] {
        let mut files = directory_files(TINY, &["config.json", "vocab.txt"]);
        files.extend(directory_files(dir, &["pytorch_model.bin"]));
        let whole = files[2].1.clone();
        let mut cuts: Vec<usize> = (0..whole.len()).step_by(499).collect();
        cuts.push(whole.len() - 1);
        for cut in cuts {
            files[2].1 = whole[..cut].to_vec();
            let error = match pollster::block_on(BertScorer::from_hf_directory(
                "tiny-bert",
                &files,
                2,
                Backend::Cpu,
            )) {
                Ok(_) => panic!("{dir}: cut at {cut} of {} loaded", whole.len()),
                Err(e) => e.to_string(),
            };
            assert!(
                error.contains("pytorch_model.bin"),
                "{dir}, cut at {cut}: {error}"
            );
        }
    }
    let files = directory_files(TINY, &["config.json", "vocab.txt"]);
    let error = pollster::block_on(BertScorer::from_hf_directory(
        "tiny-bert",
        &files,
        2,
        Backend::Cpu,
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(
        error.contains("model.safetensors (or pytorch_model.bin) is missing"),
        "{error}"
    );
}
