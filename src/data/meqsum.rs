//! MeQSum (`MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx`: first sheet, header row `File`,
//! `CHQ`, `Summary`): consumer health questions and their summaries, read with calamine from
//! the bytes alone.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::error::{DataError, Location, Problem};
use super::text;
use super::{Example, Inquiry, Record, TaskId};

const FILE: &str = "File";
const CHQ: &str = "CHQ";
const SUMMARY: &str = "Summary";

/// Reads every question of the first sheet; the id is `File`. The header is the first row
/// with content, its columns found by name in any order; rows without content are skipped;
/// an empty `File`, `CHQ` or `Summary` cell is an error. Numbers are read as text.
pub(crate) fn read(source: &str, bytes: &[u8]) -> Result<Vec<Example>, DataError> {
    if !text::is_zip(bytes) {
        return Err(DataError::new(
            source,
            Problem::WrongFormat {
                expected: TaskId::MeqSum,
                found: "a file that is not a zip archive",
            },
        ));
    }
    let spreadsheet = |error: calamine::XlsxError| {
        DataError::new(
            source,
            Problem::Spreadsheet {
                message: error.to_string(),
            },
        )
    };
    check_expansion(bytes).map_err(|problem| DataError::new(source, problem))?;
    check_references(bytes).map_err(|problem| DataError::new(source, problem))?;
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(spreadsheet)?;
    let Some(name) = workbook.sheet_names().first().cloned() else {
        return Err(DataError::new(source, Problem::NoSheet));
    };
    let rows =
        read_rows(&mut workbook, &name).map_err(|problem| DataError::new(source, problem))?;
    // Rows as the spreadsheet program numbers them (calamine counts from 0).
    let row_number = |row: u32| usize::try_from(row).unwrap_or(usize::MAX).saturating_add(1);

    let mut rows = rows
        .into_iter()
        .filter(|(_, cells)| !cells.values().all(is_blank));
    let Some((header_row, header)) = rows.next() else {
        return Err(DataError::new(source, Problem::NoExamples));
    };
    let names: Vec<(u32, String)> = header
        .iter()
        .map(|(&column, cell)| (column, cell.to_string().trim().to_string()))
        .collect();
    let column = |name: &'static str| {
        names
            .iter()
            .find(|(_, n)| n == name)
            .map(|&(column, _)| column)
            .ok_or_else(|| {
                DataError::new(
                    source,
                    Problem::MissingColumn {
                        found: names
                            .iter()
                            .map(|(_, n)| n.as_str())
                            .filter(|n| !n.is_empty())
                            .collect::<Vec<_>>()
                            .join(", "),
                    },
                )
                .at(Location::Row(row_number(header_row)))
                .with_field(name)
            })
    };
    let [file, chq, summary] = [column(FILE)?, column(CHQ)?, column(SUMMARY)?];

    let mut examples = Vec::new();
    for (index, cells) in rows {
        let row = row_number(index);
        let cell = |position: u32, name: &str| {
            text_of(cells.get(&position).unwrap_or(&Data::Empty)).map_err(|problem| {
                DataError::new(source, problem)
                    .at(Location::Row(row))
                    .with_field(name)
            })
        };
        examples.push(Example {
            id: cell(file, FILE)?,
            line: row,
            record: Record::MeqSum(Inquiry {
                chq: cell(chq, CHQ)?,
                summary: cell(summary, SUMMARY)?,
            }),
        });
    }
    if examples.is_empty() {
        return Err(DataError::new(source, Problem::NoExamples));
    }
    Ok(examples)
}

/// Cells of content the first sheet may hold. MeQSum's official sheet has about 3,000; the
/// limit only stops a workbook from filling memory cell by cell.
const MAX_CELLS: u64 = 1_000_000;

/// How many times its compressed size a zip entry of the workbook may expand to. Spreadsheet
/// XML compresses about 5–20×; a zip bomb, thousands of times.
const MAX_EXPANSION: u64 = 200;

/// The cells of content of sheet `name`, by row and then column, read one by one from the
/// sheet's XML. calamine's `worksheet_range` would build the rectangle from the first to the
/// last cell, rows × columns — 17 billion cells for a 2 KB sheet with cells at `A1` and
/// `XFD1048576` (calamine issue #693) — so the reader keeps only the cells that are there.
fn read_rows(
    workbook: &mut Xlsx<Cursor<&[u8]>>,
    name: &str,
) -> Result<BTreeMap<u32, BTreeMap<u32, Data>>, Problem> {
    let unreadable = |error: calamine::XlsxError| Problem::Spreadsheet {
        message: error.to_string(),
    };
    let mut reader = workbook.worksheet_cells_reader(name).map_err(unreadable)?;
    let mut rows: BTreeMap<u32, BTreeMap<u32, Data>> = BTreeMap::new();
    let mut cells = 0u64;
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (row, column) = cell.get_position();
        let value = Data::from(cell.get_value().clone());
        if value == Data::Empty {
            continue;
        }
        cells += 1;
        if cells > MAX_CELLS {
            return Err(Problem::SpreadsheetLimit {
                what: "number of cells of the first sheet".into(),
                found: cells,
                limit: MAX_CELLS,
            });
        }
        rows.entry(row).or_default().insert(column, value);
    }
    Ok(rows)
}

/// Refuses a workbook whose zip entries declare more than [`MAX_EXPANSION`] times their
/// compressed size, before calamine inflates any (it reads the shared strings whole).
fn check_expansion(bytes: &[u8]) -> Result<(), Problem> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|error| Problem::Spreadsheet {
            message: error.to_string(),
        })?;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|error| Problem::Spreadsheet {
                message: error.to_string(),
            })?;
        // Small entries (styles, relationships) may compress far better and cannot hurt.
        let allowed = entry
            .compressed_size()
            .max(4096)
            .saturating_mul(MAX_EXPANSION);
        if entry.size() > allowed {
            let name = entry
                .name()
                .map_or_else(|_| format!("number {}", index + 1), |name| name.to_string());
            return Err(Problem::SpreadsheetLimit {
                what: format!("entry \"{name}\" (bytes once inflated)"),
                found: entry.size(),
                limit: allowed,
            });
        }
    }
    Ok(())
}

/// The last column (`XFD`) and row of a worksheet.
const MAX_COLUMN: u64 = 16_384;
const MAX_ROW: u64 = 1_048_576;

/// Refuses a workbook whose XML holds a cell reference beyond a worksheet's last column or row
/// (`XFD1048576`) — in a cell's or a row's `r`, a `dimension`'s or a merged cell's `ref` —
/// before calamine reads it. calamine adds up a reference's letters and digits in 32 bits
/// unchecked, so `AAAAAAAA1` wraps around to an ordinary column: a release build would read the
/// cell into the wrong column, a checked one panics (found by the xlsx fuzz target). The XML is
/// streamed entry by entry (each already bounded by [`check_expansion`]); an entry that does not
/// inflate to its checksum is refused here too, where calamine would read the damaged bytes.
fn check_references(bytes: &[u8]) -> Result<(), Problem> {
    use quick_xml::events::Event;

    let unreadable = |message: String| Problem::Spreadsheet { message };
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|error| unreadable(error.to_string()))?;
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|error| unreadable(error.to_string()))?;
        let name = entry
            .name()
            .map_or_else(|_| format!("entry {}", index + 1), |name| name.into_owned());
        if !name.ends_with(".xml") {
            continue;
        }
        let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(entry));
        let mut buffer = Vec::new();
        loop {
            let event = reader
                .read_event_into(&mut buffer)
                .map_err(|error| unreadable(format!("{name}: {error}")))?;
            match event {
                Event::Start(element) | Event::Empty(element) => {
                    let (attribute, is_row) = match element.local_name().as_ref() {
                        "c" => ("r", false),
                        "row" => ("r", true),
                        "dimension" | "mergeCell" => ("ref", false),
                        _ => {
                            buffer.clear();
                            continue;
                        }
                    };
                    for found in element.attributes().flatten() {
                        if found.key.local_name().as_ref() == attribute {
                            check_reference(&name, found.value.as_bytes(), is_row)?;
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buffer.clear();
        }
    }
    Ok(())
}

/// Checks one `r` or `ref` value: `A1`, `A1:B2`, or a row number. Parts with characters other
/// than letters then digits are left to calamine, which refuses them by name.
fn check_reference(entry: &str, value: &[u8], is_row: bool) -> Result<(), Problem> {
    for part in value.split(|&b| b == b':') {
        let letters = part.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let (column, row) = part.split_at(letters);
        if !row.iter().all(u8::is_ascii_digit) || (is_row && letters > 0) {
            continue;
        }
        // At most 3 letters and 7 digits can be in bounds, so the sums below cannot overflow.
        let column_number = (letters <= 3).then(|| {
            column.iter().fold(0u64, |n, b| {
                n * 26 + u64::from(b.to_ascii_uppercase() - b'A') + 1
            })
        });
        let row_number =
            (row.len() <= 7).then(|| row.iter().fold(0u64, |n, b| n * 10 + u64::from(b - b'0')));
        let in_bounds = matches!(column_number, Some(c) if c <= MAX_COLUMN)
            && matches!(row_number, Some(r) if r <= MAX_ROW);
        if !in_bounds {
            let shown: String = String::from_utf8_lossy(value).chars().take(40).collect();
            return Err(Problem::Spreadsheet {
                message: format!(
                    "{entry}: the cell reference \"{shown}\" is outside a worksheet (columns A to XFD, rows 1 to {MAX_ROW})"
                ),
            });
        }
    }
    Ok(())
}

fn is_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

/// The text of a required cell: strings as they are, numbers in their shortest form.
fn text_of(cell: &Data) -> Result<String, Problem> {
    match cell {
        Data::Empty => Err(Problem::EmptyValue),
        Data::String(text) if text.trim().is_empty() => Err(Problem::EmptyValue),
        Data::String(text) => Ok(text.clone()),
        Data::Int(number) => Ok(number.to_string()),
        Data::Float(number) => Ok(number.to_string()),
        Data::Error(error) => Err(wrong(format!("the spreadsheet error {error}"))),
        Data::Bool(flag) => Err(wrong(flag.to_string())),
        Data::DateTime(_) | Data::DateTimeIso(_) => Err(wrong("a date".to_string())),
        Data::DurationIso(_) => Err(wrong("a duration".to_string())),
    }
}

fn wrong(found: String) -> Problem {
    Problem::WrongType {
        expected: "text",
        found,
    }
}
