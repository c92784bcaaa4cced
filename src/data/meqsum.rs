//! MeQSum (`MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx`: first sheet, header row `File`,
//! `CHQ`, `Summary`): consumer health questions and their summaries, read with calamine from
//! the bytes alone.

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
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(spreadsheet)?;
    let sheet = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| DataError::new(source, Problem::NoSheet))?
        .map_err(spreadsheet)?;
    let Some((first_row, _)) = sheet.start() else {
        return Err(DataError::new(source, Problem::NoExamples));
    };
    // calamine numbers rows from 0 and starts the range at the first cell with content.
    let row_number = |index: usize| usize::try_from(first_row).unwrap_or(usize::MAX) + index + 1;

    let mut rows = sheet
        .rows()
        .enumerate()
        .filter(|(_, cells)| !cells.iter().all(is_blank));
    let Some((header_index, header)) = rows.next() else {
        return Err(DataError::new(source, Problem::NoExamples));
    };
    let names: Vec<String> = header
        .iter()
        .map(|cell| cell.to_string().trim().to_string())
        .collect();
    let column = |name: &'static str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            DataError::new(
                source,
                Problem::MissingColumn {
                    found: names
                        .iter()
                        .filter(|n| !n.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            )
            .at(Location::Row(row_number(header_index)))
            .with_field(name)
        })
    };
    let [file, chq, summary] = [column(FILE)?, column(CHQ)?, column(SUMMARY)?];

    let mut examples = Vec::new();
    for (index, cells) in rows {
        let row = row_number(index);
        let cell = |position: usize, name: &str| {
            text_of(cells.get(position).unwrap_or(&Data::Empty)).map_err(|problem| {
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
