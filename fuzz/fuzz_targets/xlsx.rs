//! MeQSum's `.xlsx` workbook: zip entries, the sheet's XML read cell by cell.
#![no_main]

use clue_wasm::data::{self, TaskId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = data::read("meqsum.xlsx", bytes, TaskId::parse("meqsum"));
});
