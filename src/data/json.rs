//! JSON with positions: serde_json validates and parses the values, and a small structural
//! scanner over the validated text finds where every array element and object member starts,
//! so a message can name the file line of the very field at fault.

use serde::de::IgnoredAny;
use serde_json::Value;

use super::error::{DataError, Location, Problem};
use super::text::{Limits, SourceText};
use super::{Example, Record};

/// Byte range `[start, end)` of one JSON value in a [`SourceText`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

/// Checks that `span` of the text is one well-formed JSON value; the error names the file line.
pub(crate) fn validate(text: &SourceText, span: Span) -> Result<(), DataError> {
    serde_json::from_str::<IgnoredAny>(&text.text[span.start..span.end])
        .map(|_| ())
        .map_err(|error| json_error(text, span.start, &error))
}

/// Turns a serde_json error in the slice starting at `base` into a [`DataError`] at the file's
/// line.
fn json_error(text: &SourceText, base: usize, error: &serde_json::Error) -> DataError {
    let line = text.line_of(base) + error.line().saturating_sub(1);
    let problem = match error.classify() {
        serde_json::error::Category::Eof => Problem::TruncatedJson,
        _ => {
            let full = error.to_string();
            let suffix = format!(" at line {} column {}", error.line(), error.column());
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
            let column = if error.line() <= 1 {
                let line_start = text.text[..base].rfind('\n').map_or(0, |i| i + 1);
                base - line_start + error.column()
            } else {
                error.column()
            };
            Problem::InvalidJson { message, column }
        }
    };
    DataError::new(text.source, problem).at(Location::Line(line))
}

/// A short description of a JSON value for "expected …, found …" messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => format!("number {number}"),
        Value::String(text) if text.chars().count() <= 40 => format!("text \"{text}\""),
        Value::String(_) => "text".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// One JSON object of a dataset file, with where each member's value lies.
pub(crate) struct JsonObject<'t> {
    text: &'t SourceText<'t>,
    span: Span,
    item: Option<String>,
    /// Prepended to member names in messages (`icd_codes[2].` for a nested code).
    prefix: String,
    members: Vec<(String, Span)>,
}

impl<'t> JsonObject<'t> {
    /// Scans the validated object at `span`; `item` and `prefix` go into its messages.
    pub(crate) fn parse(
        text: &'t SourceText<'t>,
        span: Span,
        item: Option<String>,
        prefix: String,
    ) -> Result<JsonObject<'t>, DataError> {
        let scanned = members(text.text.as_bytes(), span.start)
            .ok_or_else(|| malformed(text, span.start).in_item(item.clone()))?;
        let mut object = JsonObject {
            text,
            span,
            item,
            prefix,
            members: Vec::with_capacity(scanned.len()),
        };
        for (key, value) in scanned {
            let name: String = serde_json::from_str(&text.text[key.start..key.end])
                .map_err(|error| json_error(text, key.start, &error))?;
            object.members.push((name, value));
        }
        Ok(object)
    }

    /// The 1-based line where the object starts.
    pub(crate) fn line(&self) -> usize {
        self.text.line_of(self.span.start)
    }

    /// The item label its messages carry.
    pub(crate) fn item(&self) -> Option<&str> {
        self.item.as_deref()
    }

    /// Replaces the item label, once the item's own id is known.
    pub(crate) fn set_item(&mut self, item: String) {
        self.item = Some(item);
    }

    /// Member names and value spans, in file order.
    pub(crate) fn members(&self) -> &[(String, Span)] {
        &self.members
    }

    /// The value span of a member; the last one wins if a name repeats, as in Python's `json`.
    pub(crate) fn member(&self, key: &str) -> Option<Span> {
        self.members
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|&(_, span)| span)
    }

    /// Whether the object has a member of that name.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.member(key).is_some()
    }

    /// The source text this object lies in.
    pub(crate) fn text(&self) -> &'t SourceText<'t> {
        self.text
    }

    /// An error about member `key`, at its line if present, else at the object's first line.
    pub(crate) fn error(&self, key: &str, problem: Problem) -> DataError {
        let offset = self.member(key).map_or(self.span.start, |span| span.start);
        DataError::new(self.text.source, problem)
            .at(Location::Line(self.text.line_of(offset)))
            .in_item(self.item.clone())
            .with_field(format!("{}{key}", self.prefix))
    }

    /// The parsed value of a present member.
    fn value_of(&self, key: &str, span: Span) -> Result<Value, DataError> {
        serde_json::from_str(&self.text.text[span.start..span.end]).map_err(|error| {
            json_error(self.text, span.start, &error)
                .in_item(self.item.clone())
                .with_field(format!("{}{key}", self.prefix))
        })
    }

    /// A member that must be present.
    fn required(&self, key: &str) -> Result<Span, DataError> {
        self.member(key)
            .ok_or_else(|| self.error(key, Problem::MissingField { alternative: None }))
    }

    /// A required text member.
    pub(crate) fn text_field(&self, key: &str) -> Result<String, DataError> {
        let span = self.required(key)?;
        self.text_at(key, span)
    }

    /// A text member that may be absent.
    pub(crate) fn optional_text(&self, key: &str) -> Result<Option<String>, DataError> {
        self.member(key)
            .map(|span| self.text_at(key, span))
            .transpose()
    }

    fn text_at(&self, key: &str, span: Span) -> Result<String, DataError> {
        match self.value_of(key, span)? {
            Value::String(text) => Ok(text),
            other => Err(self.error(
                key,
                Problem::WrongType {
                    expected: "text",
                    found: describe(&other),
                },
            )),
        }
    }

    /// An id member that may be absent; the files write ids as text or as integers.
    pub(crate) fn optional_id(&self, key: &str) -> Result<Option<String>, DataError> {
        let Some(span) = self.member(key) else {
            return Ok(None);
        };
        match self.value_of(key, span)? {
            Value::String(text) => Ok(Some(text)),
            Value::Number(number) if number.is_i64() || number.is_u64() => {
                Ok(Some(number.to_string()))
            }
            other => Err(self.error(
                key,
                Problem::WrongType {
                    expected: "text or an integer",
                    found: describe(&other),
                },
            )),
        }
    }

    /// An id member that must be present.
    pub(crate) fn required_id(&self, key: &str) -> Result<String, DataError> {
        self.optional_id(key)?
            .ok_or_else(|| self.error(key, Problem::MissingField { alternative: None }))
    }

    /// A required member holding an object; `item` and `prefix` go into the nested messages.
    pub(crate) fn object(
        &self,
        key: &str,
        item: Option<String>,
        prefix: String,
    ) -> Result<JsonObject<'t>, DataError> {
        let span = self.required(key)?;
        self.expect_kind(key, span, b'{', "an object")?;
        JsonObject::parse(self.text, span, item, prefix)
    }

    /// A required member holding an array: the spans of its elements.
    pub(crate) fn array(&self, key: &str) -> Result<Vec<Span>, DataError> {
        let span = self.required(key)?;
        self.expect_kind(key, span, b'[', "an array")?;
        elements(self.text.text.as_bytes(), span.start).ok_or_else(|| {
            malformed(self.text, span.start)
                .in_item(self.item.clone())
                .with_field(format!("{}{key}", self.prefix))
        })
    }

    /// Checks the first byte of a member's value, describing the value when it is wrong.
    fn expect_kind(
        &self,
        key: &str,
        span: Span,
        opener: u8,
        expected: &'static str,
    ) -> Result<(), DataError> {
        if self.text.text.as_bytes().get(span.start) == Some(&opener) {
            return Ok(());
        }
        let found = describe(&self.value_of(key, span)?);
        Err(self.error(key, Problem::WrongType { expected, found }))
    }
}

/// Reads the value at `span` as an object, or says what it is instead.
pub(crate) fn object_at<'t>(
    text: &'t SourceText<'t>,
    span: Span,
    item: Option<String>,
    prefix: String,
    what: &'static str,
) -> Result<JsonObject<'t>, DataError> {
    if text.text.as_bytes().get(span.start) == Some(&b'{') {
        return JsonObject::parse(text, span, item, prefix);
    }
    let value: Value = serde_json::from_str(&text.text[span.start..span.end])
        .map_err(|error| json_error(text, span.start, &error))?;
    Err(DataError::new(
        text.source,
        Problem::WrongType {
            expected: what,
            found: describe(&value),
        },
    )
    .at(Location::Line(text.line_of(span.start)))
    .in_item(item))
}

/// The span of the whole text without surrounding white space.
pub(crate) fn trimmed(text: &SourceText) -> Span {
    let start = text.text.len() - text.text.trim_start().len();
    let end = text.text.trim_end().len().max(start);
    Span { start, end }
}

/// The elements of the validated array starting at `start`.
pub(crate) fn array_elements(text: &SourceText, start: usize) -> Result<Vec<Span>, DataError> {
    elements(text.text.as_bytes(), start).ok_or_else(|| malformed(text, start))
}

/// The objects of a record file: a JSON array of objects, or JSON Lines with one object per
/// line (blank lines skipped). Array elements carry the item label `element N`.
pub(crate) fn records<'t>(
    text: &'t SourceText<'t>,
    limits: Limits,
) -> Result<Vec<JsonObject<'t>>, DataError> {
    let whole = trimmed(text);
    let objects = if text.text.as_bytes().get(whole.start) == Some(&b'[') {
        validate(text, whole)?;
        let mut objects = Vec::new();
        for (index, span) in array_elements(text, whole.start)?.into_iter().enumerate() {
            let item = Some(format!("element {}", index + 1));
            objects.push(object_at(text, span, item, String::new(), "a JSON object")?);
        }
        objects
    } else {
        json_lines(text, limits)?
    };
    if objects.is_empty() {
        return Err(DataError::new(text.source, Problem::NoExamples));
    }
    Ok(objects)
}

/// Reads a record file into examples: `id_key` names the id field (text or integer; the
/// 0-based record index where absent), `fields` reads one object into its task's record.
pub(crate) fn read_examples(
    text: &SourceText,
    limits: Limits,
    id_key: &str,
    fields: impl Fn(&JsonObject) -> Result<Record, DataError>,
) -> Result<Vec<Example>, DataError> {
    let mut examples = Vec::new();
    for (index, object) in records(text, limits)?.iter().enumerate() {
        examples.push(Example {
            id: object
                .optional_id(id_key)?
                .unwrap_or_else(|| index.to_string()),
            line: object.line(),
            record: fields(object)?,
        });
    }
    Ok(examples)
}

fn json_lines<'t>(
    text: &'t SourceText<'t>,
    limits: Limits,
) -> Result<Vec<JsonObject<'t>>, DataError> {
    let mut objects = Vec::new();
    for (number, start, line) in text.lines() {
        // The length check comes first so that an absurd line is never handed to the parser.
        if line.len() > limits.line_bytes {
            return Err(DataError::new(
                text.source,
                Problem::LineTooLong {
                    length: line.len(),
                    limit: limits.line_bytes,
                },
            )
            .at(Location::Line(number)));
        }
        let content = line.trim();
        if content.is_empty() {
            continue;
        }
        let offset = start + (line.len() - line.trim_start().len());
        let span = Span {
            start: offset,
            end: offset + content.len(),
        };
        if let Err(error) = validate(text, span) {
            let spread_over_lines = objects.is_empty()
                && error.problem() == &Problem::TruncatedJson
                && serde_json::from_str::<IgnoredAny>(text.text).is_ok();
            if spread_over_lines {
                return Err(
                    DataError::new(text.source, Problem::NotJsonLines).at(Location::Line(number))
                );
            }
            return Err(error);
        }
        objects.push(object_at(text, span, None, String::new(), "a JSON object")?);
    }
    Ok(objects)
}

fn malformed(text: &SourceText, offset: usize) -> DataError {
    DataError::new(
        text.source,
        Problem::InvalidJson {
            message: "malformed structure".to_string(),
            column: 1,
        },
    )
    .at(Location::Line(text.line_of(offset)))
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes
        .get(i)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// End of the string starting at the quote at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// End of the JSON value starting at `start`; `None` where the text is not JSON.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while let Some(&byte) = bytes.get(i) {
                match byte {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let mut i = start;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                i += 1;
            }
            (i > start).then_some(i)
        }
    }
}

/// The element spans of the array whose `[` is at `start`.
fn elements(bytes: &[u8], start: usize) -> Option<Vec<Span>> {
    if bytes.get(start) != Some(&b'[') {
        return None;
    }
    let mut spans = Vec::new();
    let mut i = skip_ws(bytes, start + 1);
    if bytes.get(i) == Some(&b']') {
        return Some(spans);
    }
    loop {
        let end = value_end(bytes, i)?;
        spans.push(Span { start: i, end });
        i = skip_ws(bytes, end);
        match bytes.get(i)? {
            b',' => i = skip_ws(bytes, i + 1),
            b']' => return Some(spans),
            _ => return None,
        }
    }
}

/// The (key, value) spans of the object whose `{` is at `start`.
fn members(bytes: &[u8], start: usize) -> Option<Vec<(Span, Span)>> {
    if bytes.get(start) != Some(&b'{') {
        return None;
    }
    let mut pairs = Vec::new();
    let mut i = skip_ws(bytes, start + 1);
    if bytes.get(i) == Some(&b'}') {
        return Some(pairs);
    }
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, i)?;
        let key = Span {
            start: i,
            end: key_end,
        };
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(bytes, i + 1);
        let value_end = value_end(bytes, i)?;
        pairs.push((
            key,
            Span {
                start: i,
                end: value_end,
            },
        ));
        i = skip_ws(bytes, value_end);
        match bytes.get(i)? {
            b',' => i = skip_ws(bytes, i + 1),
            b'}' => return Some(pairs),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> SourceText<'_> {
        SourceText::decode("t.json", text.as_bytes()).unwrap()
    }

    #[test]
    fn scanner_finds_elements_and_members_around_strings_with_brackets() {
        let json = r#"[ {"a": "x]}\"{", "b": [1, {"c": 2}]}, 3 , "s" ]"#;
        let spans = elements(json.as_bytes(), 0).unwrap();
        let pieces: Vec<&str> = spans.iter().map(|s| &json[s.start..s.end]).collect();
        assert_eq!(
            pieces,
            vec![r#"{"a": "x]}\"{", "b": [1, {"c": 2}]}"#, "3", r#""s""#]
        );
        let pairs = members(json.as_bytes(), spans[0].start).unwrap();
        let pieces: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (&json[k.start..k.end], &json[v.start..v.end]))
            .collect();
        assert_eq!(
            pieces,
            vec![(r#""a""#, r#""x]}\"{""#), (r#""b""#, r#"[1, {"c": 2}]"#)]
        );
    }

    #[test]
    fn scanner_returns_none_on_any_prefix_of_a_document() {
        let json = r#"[{"a": [1, 2, {"b": "c\"d"}], "e": null}, {"f": true}]"#;
        for end in 0..json.len() {
            assert!(
                elements(&json.as_bytes()[..end], 0).is_none(),
                "prefix {end}"
            );
        }
        assert_eq!(elements(json.as_bytes(), 0).unwrap().len(), 2);
        assert!(members(b"{}", 0).unwrap().is_empty());
        assert!(elements(b"[ ]", 0).unwrap().is_empty());
    }

    #[test]
    fn fields_report_their_own_line_and_type() {
        let text = source("[\n  {\n    \"a\": \"x\",\n    \"n\": 12\n  }\n]\n");
        let objects = records(&text, Limits::OFFICIAL).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].line(), 2);
        assert_eq!(objects[0].text_field("a").unwrap(), "x");
        assert_eq!(objects[0].optional_id("n").unwrap().as_deref(), Some("12"));
        let error = objects[0].text_field("n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.json, line 4 (element 1), field \"n\": expected text, found number 12"
        );
        let error = objects[0].text_field("missing").unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.json, line 2 (element 1), field \"missing\": required field is missing"
        );
    }

    #[test]
    fn json_lines_limit_is_checked_before_parsing() {
        let text = source("{\"a\": \"x\"}\n{\"a\": \"a much longer line\"}\n");
        let limits = Limits {
            file_bytes: 1 << 20,
            line_bytes: 12,
        };
        let error = records(&text, limits).err().unwrap();
        assert_eq!(
            error.to_string(),
            "t.json, line 2: the line is 27 bytes long, more than the limit of 12 bytes"
        );
    }

    #[test]
    fn a_pretty_printed_object_is_not_json_lines() {
        let text = source("{\n  \"a\": 1\n}\n");
        let error = records(&text, Limits::OFFICIAL).err().unwrap();
        assert_eq!(error.problem(), &Problem::NotJsonLines);
        assert_eq!(error.line(), Some(1));
    }
}
