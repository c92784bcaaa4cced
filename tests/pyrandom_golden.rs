//! `PyRandom` against values printed by CPython 3.11's `random` module
//! (tests/golden/pyrandom/make.py): every shuffle of `range(n)` for n ≤ 2000 under seeds 1
//! and 44, and streams of `getrandbits`, `random`, `sample`, `choice` and `randint`.

use clue_wasm::prompt::pyrandom::PyRandom;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn golden() -> Value {
    let text = include_str!("golden/pyrandom/golden.json");
    serde_json::from_str(text).expect("golden.json is valid JSON")
}

fn shuffled(seed: u64, n: usize) -> Vec<usize> {
    let mut items: Vec<usize> = (0..n).collect();
    PyRandom::new(seed).shuffle(&mut items);
    items
}

/// The first 16 hex digits of SHA-256 over the comma-joined permutation, as make.py hashes it.
fn permutation_digest(permutation: &[usize]) -> String {
    let joined = permutation
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let digest = Sha256::digest(joined.as_bytes());
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn seed_of(value: &Value) -> u64 {
    match value {
        Value::String(text) => text.parse().expect("seed string is a u64"),
        other => other.as_u64().expect("seed is a u64"),
    }
}

fn usizes(value: &Value) -> Vec<usize> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item.as_u64().expect("a non-negative integer") as usize)
        .collect()
}

#[test]
fn golden_made_by_cpython_3_11() {
    let python = golden()["python"].as_str().unwrap().to_owned();
    assert!(
        python.starts_with("3.11."),
        "golden made by Python {python}"
    );
}

#[test]
fn shuffles_of_every_length_up_to_2000_match_cpython() {
    let golden = golden();
    for (seed, digests) in golden["shuffle_digests"].as_object().unwrap() {
        let seed: u64 = seed.parse().unwrap();
        let digests = digests.as_array().unwrap();
        assert_eq!(digests.len(), 2000);
        for (index, expected) in digests.iter().enumerate() {
            let n = index + 1;
            assert_eq!(
                permutation_digest(&shuffled(seed, n)),
                expected.as_str().unwrap(),
                "seed {seed}, n {n}"
            );
        }
    }
}

#[test]
fn full_shuffles_match_cpython() {
    let golden = golden();
    for case in golden["shuffle_full"].as_array().unwrap() {
        let seed = seed_of(&case["seed"]);
        let n = case["n"].as_u64().unwrap() as usize;
        assert_eq!(
            shuffled(seed, n),
            usizes(&case["permutation"]),
            "seed {seed}, n {n}"
        );
    }
}

/// One generator per case of `golden[key]`, seeded with the case's seed, and the case.
fn seeded_cases<'a>(
    golden: &'a Value,
    key: &str,
) -> impl Iterator<Item = (u64, PyRandom, &'a Value)> {
    golden[key].as_array().unwrap().iter().map(|case| {
        let seed = seed_of(&case["seed"]);
        (seed, PyRandom::new(seed), case)
    })
}

#[test]
fn getrandbits_of_every_width_matches_cpython() {
    let golden = golden();
    for (seed, mut generator, case) in seeded_cases(&golden, "getrandbits") {
        for (bits, expected) in case["values"].as_array().unwrap().iter().enumerate() {
            let expected: u64 = expected.as_str().unwrap().parse().unwrap();
            let drawn = generator.getrandbits(bits as u32);
            assert_eq!(drawn, expected, "seed {seed}, k {bits}");
        }
    }
}

#[test]
fn random_floats_match_cpython_bit_for_bit() {
    let golden = golden();
    for (seed, mut generator, case) in seeded_cases(&golden, "random") {
        for expected in case["values"].as_array().unwrap() {
            let expected: f64 = expected.as_str().unwrap().parse().unwrap();
            let drawn = generator.random();
            assert_eq!(drawn.to_bits(), expected.to_bits(), "seed {seed}");
        }
    }
}

#[test]
fn samples_from_both_branches_match_cpython() {
    let golden = golden();
    let mut generators: Vec<(u64, PyRandom)> = Vec::new();
    for case in golden["sample"].as_array().unwrap() {
        let seed = seed_of(&case["seed"]);
        // make.py draws all samples of one seed from a single generator, in file order.
        if generators.last().is_none_or(|(last, _)| *last != seed) {
            generators.push((seed, PyRandom::new(seed)));
        }
        let generator = &mut generators.last_mut().unwrap().1;
        let n = case["n"].as_u64().unwrap() as usize;
        let k = case["k"].as_u64().unwrap() as usize;
        let population: Vec<usize> = (0..n).collect();
        assert_eq!(
            generator.sample(&population, k),
            usizes(&case["result"]),
            "seed {seed}, n {n}, k {k}"
        );
    }
}

#[test]
fn choice_and_randint_match_cpython() {
    let golden = golden();
    for (seed, mut generator, case) in seeded_cases(&golden, "choice_randint") {
        for (i, expected) in case["draws"].as_array().unwrap().iter().enumerate() {
            let expected = expected.as_i64().unwrap();
            let i = i as i64;
            let drawn = if i % 2 == 0 {
                let options: Vec<i64> = (1..=i / 2 + 1).collect();
                *generator.choice(&options).unwrap()
            } else {
                generator.randint(-(i * 7), i * 13)
            };
            assert_eq!(drawn, expected, "seed {seed}, draw {i}");
        }
    }
}
