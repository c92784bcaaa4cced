//! A model's Jinja chat template rendered as Hugging Face transformers' `apply_chat_template`
//! does (transformers 4.57, `chat_template_utils._compile_jinja_template`), on minijinja with
//! Python-compatible values, `tojson`, `raise_exception` and an optional `strftime_now`.
//!
//! A template comes with a model file someone else wrote, so it is hostile until it has shown
//! otherwise: every render runs on minijinja's fuel (a budget of steps and of bytes created,
//! so a loop that never ends or a string doubled until memory is gone stops with an error),
//! its output is capped, and [`ChatTemplate::new`] renders a probe conversation at load so that
//! a template that cannot finish is refused before any sample is run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Serde, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, Value};
use serde::{Deserialize, Serialize};
use thiserror::Error as ThisError;

/// The name the template is registered under inside its environment.
const TEMPLATE_NAME: &str = "chat_template";

/// The fuel of one render: minijinja charges one per instruction and about one per 64 bytes
/// a template creates, so this bounds a render to half a million steps and some 32 MB
/// created (measured by `tests/bad_input.rs`: under 64 MiB at the peak). A chat template
/// rendering a 128k-token prompt uses some tens of thousands.
pub const RENDER_FUEL: u64 = 500_000;

/// The longest rendered prompt accepted: 8 MB, far beyond any model's context.
pub const MAX_RENDERED_BYTES: usize = 8 << 20;

/// Marks errors raised by the template itself, to tell them from rendering failures.
const RAISED_MARKER: &str = "raise_exception: ";

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The task instructions.
    System,
    /// The questions (few-shot inputs and the query).
    User,
    /// The answers (few-shot targets).
    Assistant,
}

impl Role {
    /// The role as chat templates compare it (`system`, `user`, `assistant`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation, as `{"role": …, "content": …}` in the template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said, verbatim (control-token look-alikes stay plain text).
    pub content: String,
}

impl Message {
    /// A message from `role` with `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// The tokenizer's special tokens, passed to the template under their `tokenizer_config.json`
/// names; absent ones are left undefined, as transformers leaves out unset tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialTokens {
    /// `bos_token`.
    pub bos_token: Option<String>,
    /// `eos_token`.
    pub eos_token: Option<String>,
    /// `unk_token`.
    pub unk_token: Option<String>,
    /// `pad_token`.
    pub pad_token: Option<String>,
}

/// A calendar date and time of day for `strftime_now`, given by the caller because library
/// code reads no clock (it runs in the browser too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CivilTime {
    /// Year, e.g. 2024.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
    /// Hour, 0–23.
    pub hour: u32,
    /// Minute, 0–59.
    pub minute: u32,
    /// Second, 0–59.
    pub second: u32,
}

/// Why a chat template could not be used.
#[derive(Debug, ThisError)]
pub enum ChatTemplateError {
    /// The template does not parse.
    #[error("chat template syntax error: {0}")]
    Syntax(String),
    /// The template called `raise_exception(message)`, e.g. for a role it does not support.
    #[error("chat template raised an exception: {0}")]
    Raised(String),
    /// Rendering failed (undefined operation, bad filter argument, …).
    #[error("chat template rendering failed: {0}")]
    Render(String),
    /// The template went past a limit: its fuel ([`RENDER_FUEL`]) or the output cap
    /// ([`MAX_RENDERED_BYTES`]).
    #[error("chat template refused: {0}")]
    Limit(String),
}

/// A compiled chat template with its special tokens.
pub struct ChatTemplate {
    env: Environment<'static>,
    special_tokens: SpecialTokens,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("special_tokens", &self.special_tokens)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source` in transformers' environment: `trim_blocks`, `lstrip_blocks`, no
    /// auto-escaping, loop controls, Python string and dict methods, transformers' `tojson`
    /// and `raise_exception`. `strftime_now` stays undefined until [`ChatTemplate::with_clock`],
    /// so templates fall back to their own default date as they do without it.
    pub fn new(
        source: &str,
        special_tokens: SpecialTokens,
    ) -> Result<ChatTemplate, ChatTemplateError> {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| ChatTemplateError::Syntax(e.to_string()))?;
        env.set_syntax(syntax);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_formatter(python_formatter);
        env.add_filter("tojson", tojson_filter);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned(TEMPLATE_NAME, source.to_owned())
            .map_err(|e| ChatTemplateError::Syntax(describe(&e)))?;
        env.set_fuel(Some(RENDER_FUEL));
        let template = ChatTemplate {
            env,
            special_tokens,
        };
        template.probe()?;
        Ok(template)
    }

    /// Renders a short conversation (with a system message, and without one for templates that
    /// refuse it) to show that the template finishes within its limits and renders at all:
    /// every CLUE prompt is such a conversation. A template that raises on both (roles it
    /// refuses) is left for the real render to report with the roles it was given.
    fn probe(&self) -> Result<(), ChatTemplateError> {
        let turns = [
            Message::new(Role::User, "What is the normal range of serum sodium?"),
            Message::new(Role::Assistant, "135 to 145 mmol/L."),
            Message::new(Role::User, "And potassium?"),
        ];
        let mut with_system = vec![Message::new(Role::System, "Answer briefly.")];
        with_system.extend(turns.iter().cloned());
        match self.render(&with_system, true) {
            Ok(_) => return Ok(()),
            Err(error @ ChatTemplateError::Limit(_)) => return Err(error),
            Err(_) => {}
        }
        match self.render(&turns, true) {
            Ok(_) | Err(ChatTemplateError::Raised(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Defines `strftime_now(format)` as formatting `now` (transformers formats the local
    /// time).
    pub fn with_clock(mut self, now: CivilTime) -> ChatTemplate {
        self.env
            .add_function("strftime_now", move |format: String| {
                strftime(&now, &format)
            });
        self
    }

    /// Renders `messages` as `apply_chat_template(messages, tokenize=False,
    /// add_generation_prompt=…)` does: `tools` and `documents` are none, the special tokens
    /// are defined as given.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, ChatTemplateError> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| ChatTemplateError::Syntax(describe(&e)))?;
        let tokens = [
            ("bos_token", &self.special_tokens.bos_token),
            ("eos_token", &self.special_tokens.eos_token),
            ("unk_token", &self.special_tokens.unk_token),
            ("pad_token", &self.special_tokens.pad_token),
        ];
        let mut context: BTreeMap<&str, Value> = tokens
            .into_iter()
            .filter_map(|(name, token)| token.as_ref().map(|t| (name, Value::from(t.as_str()))))
            .collect();
        context.insert("messages", Value::from(Serde(messages)));
        context.insert("tools", Value::from(()));
        context.insert("documents", Value::from(()));
        context.insert("add_generation_prompt", Value::from(add_generation_prompt));
        let context = Value::from_pairs(context);
        let rendered = template.render(context).map_err(|e| match e.detail() {
            _ if e.kind() == ErrorKind::OutOfFuel => ChatTemplateError::Limit(format!(
                "rendering used up its fuel of {RENDER_FUEL} steps (a loop that does not end, \
                 or text that grows past about 32 MB)"
            )),
            Some(detail)
                if e.kind() == ErrorKind::InvalidOperation && detail.starts_with(RAISED_MARKER) =>
            {
                ChatTemplateError::Raised(detail[RAISED_MARKER.len()..].to_owned())
            }
            _ => ChatTemplateError::Render(describe(&e)),
        })?;
        if rendered.len() > MAX_RENDERED_BYTES {
            return Err(ChatTemplateError::Limit(format!(
                "the rendered prompt is {} bytes, above the limit of {MAX_RENDERED_BYTES}",
                rendered.len()
            )));
        }
        Ok(rendered)
    }
}

/// The error with its template line, as one line.
fn describe(error: &Error) -> String {
    match error.line() {
        Some(line) => format!("{error} (template line {line})"),
        None => error.to_string(),
    }
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("{RAISED_MARKER}{message}"),
    ))
}

/// Prints values as Jinja2 does under Python: `None`, `True`, `False`, Python float and
/// list/dict reprs; everything else as minijinja prints it.
fn python_formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    match value.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::Seq | ValueKind::Map => {
            out.write_str(&python_repr(value))
                .map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Python's `repr` of a value (`str()` for the top level of numbers and booleans is the same).
fn python_repr(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined => String::new(),
        ValueKind::None => "None".to_owned(),
        ValueKind::Bool => if value.is_true() { "True" } else { "False" }.to_owned(),
        ValueKind::Number => python_number(value),
        ValueKind::String => python_str_repr(value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<String> = value
                .try_iter()
                .map(|iter| iter.map(|item| python_repr(&item)).collect())
                .unwrap_or_default();
            format!("[{}]", items.join(", "))
        }
        ValueKind::Map => {
            let items: Vec<String> = value
                .try_iter()
                .map(|keys| {
                    keys.map(|key| {
                        let item = value.get_item(&key).unwrap_or_default();
                        format!("{}: {}", python_repr(&key), python_repr(&item))
                    })
                    .collect()
                })
                .unwrap_or_default();
            format!("{{{}}}", items.join(", "))
        }
        _ => value.to_string(),
    }
}

fn python_number(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(x) => python_float(x),
        Err(_) => value.to_string(),
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, positional for exponents in
/// [-4, 16), scientific with a signed two-digit exponent otherwise.
fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let positional = format!("{x}");
        if positional.contains('.') {
            positional
        } else {
            format!("{positional}.0")
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Python's `repr(str)`: single quotes unless the text holds `'` and no `"`.
fn python_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// How `json.dumps` lays out its output.
struct JsonLayout {
    ensure_ascii: bool,
    indent: Option<String>,
    item_separator: String,
    key_separator: String,
    sort_keys: bool,
}

/// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=None, separators=None,
/// sort_keys=False)` instead of Jinja2's HTML-safe filter; `indent` may also come first
/// positionally.
fn tojson_filter(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let indent = match kwargs.get::<Option<Value>>("indent")? {
        Some(indent) => Some(indent),
        None => indent,
    };
    let separators: Option<Value> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;

    let indent = match indent {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) if v.is_integer() => {
            let width = i64::try_from(v).unwrap_or(0).max(0) as usize;
            Some(" ".repeat(width))
        }
        Some(v) if v.as_str().is_some() => v.as_str().map(str::to_owned),
        Some(v) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: indent must be an integer or a string, not {v}"),
            ));
        }
    };
    let (item_separator, key_separator) = match separators {
        Some(pair) if !pair.is_none() => {
            let item = pair.get_item(&Value::from(0))?;
            let key = pair.get_item(&Value::from(1))?;
            match (item.as_str(), key.as_str()) {
                (Some(item), Some(key)) => (item.to_owned(), key.to_owned()),
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: separators must be a pair of strings",
                    ));
                }
            }
        }
        // json.dumps drops the space after the comma when indenting.
        _ if indent.is_some() => (",".to_owned(), ": ".to_owned()),
        _ => (", ".to_owned(), ": ".to_owned()),
    };
    let layout = JsonLayout {
        ensure_ascii: ensure_ascii.unwrap_or(false),
        indent,
        item_separator,
        key_separator,
        sort_keys: sort_keys.unwrap_or(false),
    };
    let mut out = String::new();
    write_json(&mut out, value, 0, &layout)?;
    Ok(Value::from(out))
}

fn write_json(
    out: &mut String,
    value: &Value,
    level: usize,
    layout: &JsonLayout,
) -> Result<(), Error> {
    match value.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if value.is_integer() {
                out.push_str(&value.to_string());
            } else {
                let x = f64::try_from(value.clone())?;
                // json.dumps writes NaN and the infinities as JavaScript literals.
                out.push_str(&match x {
                    x if x.is_nan() => "NaN".to_owned(),
                    x if x.is_infinite() && x > 0.0 => "Infinity".to_owned(),
                    x if x.is_infinite() => "-Infinity".to_owned(),
                    x => python_float(x),
                });
            }
        }
        ValueKind::String => {
            write_json_string(out, value.as_str().unwrap_or_default(), layout.ensure_ascii)
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            write_json_container(out, '[', ']', items.len(), level, layout, |out, i| {
                write_json(out, &items[i], level + 1, layout)
            })?;
        }
        ValueKind::Map => {
            let mut entries: Vec<(String, Value)> = value
                .try_iter()?
                .map(|key| {
                    let item = value.get_item(&key)?;
                    Ok((json_key(&key)?, item))
                })
                .collect::<Result<_, Error>>()?;
            if layout.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            write_json_container(out, '{', '}', entries.len(), level, layout, |out, i| {
                write_json_string(out, &entries[i].0, layout.ensure_ascii);
                out.push_str(&layout.key_separator);
                write_json(out, &entries[i].1, level + 1, layout)
            })?;
        }
        ValueKind::Undefined => {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "tojson: an undefined value is not JSON serializable",
            ));
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: a {} is not JSON serializable", value.kind()),
            ));
        }
    }
    Ok(())
}

fn write_json_container(
    out: &mut String,
    open: char,
    close: char,
    len: usize,
    level: usize,
    layout: &JsonLayout,
    mut write_item: impl FnMut(&mut String, usize) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push(open);
    if len == 0 {
        out.push(close);
        return Ok(());
    }
    for i in 0..len {
        if i > 0 {
            out.push_str(&layout.item_separator);
        }
        if let Some(indent) = &layout.indent {
            out.push('\n');
            out.push_str(&indent.repeat(level + 1));
        }
        write_item(out, i)?;
    }
    if let Some(indent) = &layout.indent {
        out.push('\n');
        out.push_str(&indent.repeat(level));
    }
    out.push(close);
    Ok(())
}

/// Dict keys as `json.dumps` converts them: strings as they are, scalars as JSON literals.
fn json_key(key: &Value) -> Result<String, Error> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_owned()),
        ValueKind::None => Ok("null".to_owned()),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.to_owned()),
        ValueKind::Number if key.is_integer() => Ok(key.to_string()),
        ValueKind::Number => Ok(python_float(f64::try_from(key.clone())?)),
        kind => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("tojson: keys must be str, int, float, bool or None, not {kind}"),
        )),
    }
}

fn write_json_string(out: &mut String, text: &str, ensure_ascii: bool) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ensure_ascii && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Python's `datetime.strftime` in the C locale for the directives chat templates use.
fn strftime(now: &CivilTime, format: &str) -> Result<String, Error> {
    let invalid =
        |what: String| Error::new(ErrorKind::InvalidOperation, format!("strftime_now: {what}"));
    if !(1..=12).contains(&now.month) || !(1..=31).contains(&now.day) {
        return Err(invalid(format!(
            "the clock holds an impossible date {}-{}-{}",
            now.year, now.month, now.day
        )));
    }
    let month = MONTHS[now.month as usize - 1];
    let days = days_from_civil(now.year, now.month, now.day);
    // 1970-01-01 was a Thursday (index 3 from Monday).
    let weekday = WEEKDAYS[(days + 3).rem_euclid(7) as usize];
    let day_of_year = days - days_from_civil(now.year, 1, 1) + 1;
    let hour12 = match now.hour % 12 {
        0 => 12,
        h => h,
    };
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let directive = chars
            .next()
            .ok_or_else(|| invalid("the format ends with a lone %".to_owned()))?;
        let _ = match directive {
            'Y' => write!(out, "{}", now.year),
            'y' => write!(out, "{:02}", now.year.rem_euclid(100)),
            'm' => write!(out, "{:02}", now.month),
            'd' => write!(out, "{:02}", now.day),
            'e' => write!(out, "{:2}", now.day),
            'H' => write!(out, "{:02}", now.hour),
            'I' => write!(out, "{hour12:02}"),
            'M' => write!(out, "{:02}", now.minute),
            'S' => write!(out, "{:02}", now.second),
            'p' => write!(out, "{}", if now.hour < 12 { "AM" } else { "PM" }),
            'j' => write!(out, "{day_of_year:03}"),
            'B' => write!(out, "{month}"),
            'b' | 'h' => write!(out, "{}", &month[..3]),
            'A' => write!(out, "{weekday}"),
            'a' => write!(out, "{}", &weekday[..3]),
            '%' => write!(out, "%"),
            other => return Err(invalid(format!("unsupported directive %{other}"))),
        };
    }
    Ok(out)
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr_switches_to_scientific_like_python() {
        assert_eq!(python_float(1.5), "1.5");
        assert_eq!(python_float(2.0), "2.0");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(1.25e-5), "1.25e-05");
        assert_eq!(python_float(0.0001), "0.0001");
    }

    #[test]
    fn strftime_formats_a_known_day() {
        let now = CivilTime {
            year: 2024,
            month: 7,
            day: 26,
            hour: 15,
            minute: 4,
            second: 5,
        };
        assert_eq!(strftime(&now, "%d %b %Y").unwrap(), "26 Jul 2024");
        assert_eq!(
            strftime(&now, "%A %j %I:%M:%S %p %%").unwrap(),
            "Friday 208 03:04:05 PM %"
        );
        assert!(strftime(&now, "%Q").is_err());
    }

    #[test]
    fn strftime_now_is_defined_only_with_a_clock() {
        let source = "{% if strftime_now is defined %}{{ strftime_now('%Y-%m-%d') }}{% else %}none{% endif %}";
        let plain = ChatTemplate::new(source, SpecialTokens::default()).unwrap();
        assert_eq!(plain.render(&[], false).unwrap(), "none");
        let clocked = plain.with_clock(CivilTime {
            year: 2025,
            month: 1,
            day: 2,
            hour: 0,
            minute: 0,
            second: 0,
        });
        assert_eq!(clocked.render(&[], false).unwrap(), "2025-01-02");
    }

    #[test]
    fn syntax_errors_are_errors_not_panics() {
        let error =
            ChatTemplate::new("{% for m in messages %}", SpecialTokens::default()).unwrap_err();
        assert!(matches!(error, ChatTemplateError::Syntax(_)), "{error}");
    }

    /// Templates that never finish or grow without bound are refused at load, by the probe
    /// render, with the limit named: a nested loop (minutes without fuel), a string doubled
    /// 40 times (a terabyte without fuel), a string repeated past the output cap.
    #[test]
    fn templates_that_cannot_finish_are_refused_at_load() {
        let hostile = [
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "{% set ns = namespace(s='x' * 1000) %}{% for i in range(40) %}\
             {% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
            "{{ 'clinical' * 1100000 }}",
        ];
        for source in hostile {
            let error = ChatTemplate::new(source, SpecialTokens::default()).unwrap_err();
            assert!(
                matches!(error, ChatTemplateError::Limit(_)),
                "{source}: {error}"
            );
            let message = error.to_string();
            assert!(
                message.contains("fuel") || message.contains("above the limit"),
                "{message}"
            );
        }
        // A template that refuses a system message still loads (Gemma's do).
        let no_system = "{% for m in messages %}{% if m.role == 'system' %}\
            {{ raise_exception('no system role') }}{% endif %}{{ m.content }}{% endfor %}";
        assert!(ChatTemplate::new(no_system, SpecialTokens::default()).is_ok());
    }
}
