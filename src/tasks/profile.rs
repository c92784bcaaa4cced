//! The two versions of the reference code CLUE can be run as, and their prompt strings: the
//! embedded `prompts.json` (a copy of the spec's), parsed once, and `str.format`-style filling.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{TaskError, TaskId};

/// Which version of the reference code to reproduce.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum Profile {
    /// Commit ff75877, which produced the published results: greedy decoding, first-k few-shot
    /// rows, assistant prefixes, left truncation to the context, answer clean-up.
    #[default]
    #[serde(rename = "paper-2024-06")]
    Paper,
    /// Commit 2de4314 (vLLM): sampling at temperature 1, shuffled few-shot rows, no prefixes.
    #[serde(rename = "current-2025-01")]
    Current,
}

impl Profile {
    /// Both profiles, the default first.
    pub const ALL: [Profile; 2] = [Profile::Paper, Profile::Current];

    /// The profile's name in settings and results (`paper-2024-06`, `current-2025-01`).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Paper => "paper-2024-06",
            Profile::Current => "current-2025-01",
        }
    }

    /// Parses a profile name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One task's prompt strings under one profile, as `prompts.json` spells them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskPrompt {
    /// The system prompt.
    pub sys_prompt: String,
    /// The user turn, with `{field}` placeholders (all tasks but LongHealth).
    pub user_prompt_template: Option<String>,
    /// LongHealth's user turn (`{documents}`, `{question_text}`, `{options}`).
    pub prompt_template: Option<String>,
    /// The few-shot assistant turn, with `{field}` placeholders.
    pub assistant_response_template: Option<String>,
    /// Text the paper profile appends after the generation prompt.
    pub assistant_response_start: Option<String>,
    /// Generation length.
    pub max_new_tokens: usize,
}

#[derive(Deserialize)]
struct PromptFile {
    profiles: BTreeMap<Profile, BTreeMap<TaskId, TaskPrompt>>,
}

/// The prompt strings of `task` under `profile`.
pub fn task_prompt(profile: Profile, task: TaskId) -> &'static TaskPrompt {
    static PROMPTS: OnceLock<PromptFile> = OnceLock::new();
    let file = PROMPTS.get_or_init(|| {
        serde_json::from_str(include_str!("prompts.json"))
            .unwrap_or_else(|e| panic!("the embedded src/tasks/prompts.json does not parse: {e}"))
    });
    file.profiles
        .get(&profile)
        .and_then(|tasks| tasks.get(&task))
        .unwrap_or_else(|| panic!("the embedded prompts.json has no {task} entry for {profile}"))
}

/// Fills `{name}` placeholders as Python's `str.format(**fields)` does, with `{{` and `}}`
/// standing for literal braces.
pub(crate) fn fill(template: &str, fields: &[(&str, &str)]) -> Result<String, TaskError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
        } else if let Some(stripped) = tail.strip_prefix('{') {
            let end = stripped.find('}').ok_or_else(|| TaskError::Template {
                template: template.to_owned(),
                problem: "an unclosed `{`".to_owned(),
            })?;
            let name = &stripped[..end];
            let value = fields
                .iter()
                .find(|(field, _)| *field == name)
                .map(|(_, value)| *value)
                .ok_or_else(|| TaskError::Template {
                    template: template.to_owned(),
                    problem: format!("no field `{name}` for this task"),
                })?;
            out.push_str(value);
            rest = &stripped[end + 1..];
        } else {
            return Err(TaskError::Template {
                template: template.to_owned(),
                problem: "a lone `}`".to_owned(),
            });
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_prompts_in_both_profiles() {
        for profile in Profile::ALL {
            for task in TaskId::ALL {
                let prompt = task_prompt(profile, task);
                assert!(!prompt.sys_prompt.is_empty(), "{profile} {task}");
                if task == TaskId::LongHealth {
                    assert!(prompt.prompt_template.is_some(), "{profile} {task}");
                } else {
                    assert!(prompt.user_prompt_template.is_some(), "{profile} {task}");
                    assert!(
                        prompt.assistant_response_template.is_some(),
                        "{profile} {task}"
                    );
                }
            }
        }
    }

    #[test]
    fn profile_names_round_trip() {
        for profile in Profile::ALL {
            assert_eq!(Profile::parse(profile.as_str()), Some(profile));
            let json = serde_json::to_string(&profile).unwrap();
            assert_eq!(json, format!("\"{}\"", profile.as_str()));
        }
        assert_eq!(Profile::default(), Profile::Paper);
        assert_eq!(Profile::parse("paper"), None);
    }

    #[test]
    fn fill_follows_str_format() {
        let filled = fill("{{a}} {a}-{b}}}", &[("a", "x{y}"), ("b", "")]).unwrap();
        assert_eq!(filled, "{a} x{y}-}");
        assert!(fill("{missing}", &[]).is_err());
        assert!(fill("open {", &[]).is_err());
        assert!(fill("close }", &[]).is_err());
    }
}
