//! The text dataset readers (JSON, JSONL, CSV) of every task. The first byte picks the task
//! and the file name (so the format) the rest is read as; task 0 lets the reader detect it.
#![no_main]

use clue_wasm::data::{self, TaskId};
use libfuzzer_sys::fuzz_target;

const TASKS: [Option<&str>; 7] = [
    None,
    Some("mednli"),
    Some("meqsum"),
    Some("probsum"),
    Some("medisumqa"),
    Some("medisumcode"),
    Some("longhealth"),
];
const NAMES: [&str; 3] = ["data.json", "data.jsonl", "data.csv"];

fuzz_target!(|input: &[u8]| {
    let Some((&choice, bytes)) = input.split_first() else {
        return;
    };
    let task = TASKS[usize::from(choice) % TASKS.len()].and_then(TaskId::parse);
    let name = NAMES[usize::from(choice / 7) % NAMES.len()];
    let _ = data::read(name, bytes, task);
});
