//! The text of a dataset file: size limits checked before anything is parsed, UTF-8 checked
//! with the line and byte offset of the first bad byte, and byte offsets mapped to lines.

use super::error::{DataError, Location, Problem};

/// The largest dataset file any reader accepts (1 GiB); the largest official file, MeDiSumQA
/// with its discharge letters, is a few megabytes. Callers can check a file's size against it
/// before reading the bytes into memory.
pub const MAX_FILE_BYTES: usize = 1 << 30;

/// The longest line a JSON Lines file may have (64 MiB), checked before the line is parsed.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// The size limits the readers enforce; tests lower them to check the limits cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Largest file, in bytes.
    pub file_bytes: usize,
    /// Longest JSON Lines line, in bytes (without its line break).
    pub line_bytes: usize,
}

impl Limits {
    /// The documented limits of the public API.
    pub(crate) const OFFICIAL: Limits = Limits {
        file_bytes: MAX_FILE_BYTES,
        line_bytes: MAX_LINE_BYTES,
    };
}

/// Rejects files over the size limit and files without content, before any parsing.
pub(crate) fn check_size(source: &str, bytes: &[u8], limits: Limits) -> Result<(), DataError> {
    if bytes.len() > limits.file_bytes {
        return Err(DataError::new(
            source,
            Problem::FileTooLarge {
                size: bytes.len(),
                limit: limits.file_bytes,
            },
        ));
    }
    let content = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if content.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::new(source, Problem::EmptyFile));
    }
    Ok(())
}

/// Whether the bytes start like a zip archive, as every xlsx workbook does.
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A text file decoded as UTF-8, with the start of every line for messages.
pub(crate) struct SourceText<'a> {
    /// The file name used in messages.
    pub source: &'a str,
    /// The text after an optional byte-order mark.
    pub text: &'a str,
    /// Byte offset in `text` where each line starts; the first is 0.
    line_starts: Vec<usize>,
}

impl<'a> SourceText<'a> {
    /// Decodes the bytes, skipping a UTF-8 byte-order mark (spreadsheet programs write one).
    pub(crate) fn decode(source: &'a str, bytes: &'a [u8]) -> Result<SourceText<'a>, DataError> {
        let bom = if bytes.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        let body = &bytes[bom..];
        let text = std::str::from_utf8(body).map_err(|error| {
            let valid = &body[..error.valid_up_to()];
            let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
            DataError::new(
                source,
                Problem::InvalidUtf8 {
                    offset: bom + error.valid_up_to(),
                },
            )
            .at(Location::Line(line))
        })?;
        let line_starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Ok(SourceText {
            source,
            text,
            line_starts,
        })
    }

    /// The 1-based line holding the byte at `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// Every line as (1-based number, byte offset of its start, text without the line break).
    pub(crate) fn lines(&self) -> impl Iterator<Item = (usize, usize, &'a str)> + '_ {
        let text = self.text;
        self.line_starts
            .iter()
            .enumerate()
            .map(move |(index, &start)| {
                let end = self
                    .line_starts
                    .get(index + 1)
                    .map_or(text.len(), |&next| next - 1);
                (index + 1, start, &text[start..end])
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_from_one_and_offsets_map_back() {
        let text = SourceText::decode("f", b"ab\ncd\n\nef").unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(
            lines,
            vec![(1, 0, "ab"), (2, 3, "cd"), (3, 6, ""), (4, 7, "ef")]
        );
        assert_eq!(text.line_of(0), 1);
        assert_eq!(text.line_of(2), 1);
        assert_eq!(text.line_of(3), 2);
        assert_eq!(text.line_of(8), 4);
    }

    #[test]
    fn byte_order_mark_is_skipped_but_counted_in_offsets() {
        let text = SourceText::decode("f", b"\xEF\xBB\xBFab").unwrap();
        assert_eq!(text.text, "ab");
        let error = SourceText::decode("f.jsonl", b"\xEF\xBB\xBF{}\n{\xFF}")
            .err()
            .unwrap();
        assert_eq!(error.problem(), &Problem::InvalidUtf8 { offset: 7 });
        assert_eq!(error.location(), Some(Location::Line(2)));
    }

    #[test]
    fn size_limit_is_checked_before_content() {
        let limits = Limits {
            file_bytes: 4,
            line_bytes: 4,
        };
        let error = check_size("big.jsonl", b"12345", limits).unwrap_err();
        assert_eq!(
            error.to_string(),
            "big.jsonl: the file is 5 bytes, more than the limit of 4 bytes"
        );
        assert!(check_size("ok.jsonl", b"1234", limits).is_ok());
        let error = check_size("blank.jsonl", b" \n\t\n", limits).unwrap_err();
        assert_eq!(error.problem(), &Problem::EmptyFile);
    }
}
