//! The few-shot tasks' shared machinery, as the reference's `utils.py` builds a chat: which rows
//! become shots, the message list per chat style, and one request per evaluated row.

use super::request::{GenerationSettings, Prompt, Reference, Request, Sampling, TaskSettings};
use super::{Profile, TaskError, TaskId, profile};
use crate::data::Example;
use crate::prompt::chat_template::{Message, Role};
use crate::prompt::pyrandom::PyRandom;

/// The `{field}` values of an example, by the names the templates use.
pub(crate) type Fields = Vec<(&'static str, String)>;

/// What a few-shot task supplies per example.
pub(crate) struct ShotTask {
    /// The task.
    pub task: TaskId,
    /// Shots when the settings do not say.
    pub default_shots: usize,
    /// Room kept free for generation by the paper profile's truncation, when it is not the
    /// generation length (MedNLI keeps 200).
    pub truncation_room: Option<usize>,
    /// The `{field}` values of an example.
    pub fields: fn(&Example, &TaskSettings) -> Result<Fields, TaskError>,
    /// The gold answer of an example.
    pub reference: fn(&Example, &TaskSettings) -> Result<Reference, TaskError>,
}

/// Splits the rows into shots and evaluated rows as the reference does: the first `k` rows of
/// the file (paper profile), or of the list after `random.seed(1); random.shuffle(data)`
/// (current profile, and MeDiSumQA in the paper profile). The evaluated rows are the rest, in
/// the order the reference iterates them (shuffled where it shuffled).
pub(crate) fn split_shots(
    examples: &[Example],
    k: usize,
    shuffle: bool,
) -> (Vec<&Example>, Vec<&Example>) {
    let mut rows: Vec<&Example> = examples.iter().collect();
    if shuffle {
        PyRandom::new(1).shuffle(&mut rows);
    }
    let evaluated = rows.split_off(k.min(rows.len()));
    (rows, evaluated)
}

/// Whether the reference shuffles this task's rows before taking shots.
pub(crate) fn shuffles(task: TaskId, profile: Profile) -> bool {
    profile == Profile::Current || task == TaskId::MeDiSumQa
}

/// The conversation for one query: `[system, user(shot 1), assistant(shot 1), …, user(query)]`;
/// without a system role the system prompt goes in front of the first user turn after a
/// blank line; a base model gets `system ⏎⏎ U1 ⏎⏎ A1 … ⏎⏎ U ⏎⏎` as one string.
pub(crate) fn assemble(
    style: super::ChatStyle,
    system: &str,
    shots: &[(String, String)],
    query: &str,
) -> Prompt {
    use super::ChatStyle;
    if style == ChatStyle::BaseModel {
        let mut text = system.to_owned();
        for (user, assistant) in shots {
            text.push_str(&format!("\n\n{user}\n\n{assistant}"));
        }
        text.push_str(&format!("\n\n{query}\n\n"));
        return Prompt::Plain(text);
    }
    let mut messages = Vec::with_capacity(2 * shots.len() + 2);
    if style == ChatStyle::SystemRole {
        messages.push(Message::new(Role::System, system));
    }
    for (user, assistant) in shots {
        messages.push(Message::new(Role::User, user.clone()));
        messages.push(Message::new(Role::Assistant, assistant.clone()));
    }
    messages.push(Message::new(Role::User, query));
    if style == ChatStyle::NoSystemRole {
        let first = &mut messages[0];
        first.content = format!("{system}\n\n{}", first.content);
    }
    Prompt::Chat(messages)
}

/// Decoding per profile: greedy (paper) or seeded sampling at temperature 1, top-p 1.
pub(crate) fn generation(
    settings: &TaskSettings,
    max_new_tokens: usize,
    index: usize,
    stops: Vec<String>,
) -> GenerationSettings {
    let sampling = match settings.profile {
        Profile::Paper => Sampling::Greedy,
        Profile::Current => Sampling::Sample {
            temperature: 1.0,
            top_p: 1.0,
            seed: settings.sampling_seed.wrapping_add(index as u64),
        },
    };
    GenerationSettings {
        max_new_tokens,
        sampling,
        stop_sequences: stops,
    }
}

/// One request per evaluated row of a few-shot task.
pub(crate) fn few_shot_requests(
    spec: &ShotTask,
    examples: &[Example],
    settings: &TaskSettings,
) -> Result<Vec<Request>, TaskError> {
    let prompt = profile::task_prompt(settings.profile, spec.task);
    let user_template = template(&prompt.user_prompt_template, spec.task)?;
    let assistant_template = template(&prompt.assistant_response_template, spec.task)?;
    let k = settings.shots.unwrap_or(spec.default_shots);
    let (shot_rows, evaluated) = split_shots(examples, k, shuffles(spec.task, settings.profile));

    let turn = |example: &Example, template: &str| -> Result<String, TaskError> {
        let fields = (spec.fields)(example, settings)?;
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        profile::fill(template, &pairs)
    };
    let shots = shot_rows
        .iter()
        .map(|example| {
            Ok((
                turn(example, user_template)?,
                turn(example, assistant_template)?,
            ))
        })
        .collect::<Result<Vec<_>, TaskError>>()?;

    let max_new_tokens = settings.max_new_tokens.unwrap_or(prompt.max_new_tokens);
    let (assistant_prefix, max_prompt_tokens) = match settings.profile {
        Profile::Paper => (
            prompt.assistant_response_start.clone(),
            settings.context_size.map(|context| {
                context.saturating_sub(spec.truncation_room.unwrap_or(max_new_tokens))
            }),
        ),
        Profile::Current => (None, None),
    };
    evaluated
        .iter()
        .enumerate()
        .map(|(index, example)| {
            Ok(Request {
                task: spec.task,
                id: example.id.clone(),
                prompt: assemble(
                    settings.chat_style,
                    &prompt.sys_prompt,
                    &shots,
                    &turn(example, user_template)?,
                ),
                assistant_prefix: assistant_prefix.clone(),
                max_prompt_tokens,
                generation: generation(settings, max_new_tokens, index, settings.llama3_stops()),
                reference: (spec.reference)(example, settings)?,
            })
        })
        .collect()
}

fn template(template: &'static Option<String>, task: TaskId) -> Result<&'static str, TaskError> {
    template.as_deref().ok_or_else(|| TaskError::Template {
        template: String::new(),
        problem: format!("prompts.json lacks a template for {task}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::ChatStyle;

    fn shots() -> Vec<(String, String)> {
        vec![("U1".into(), "A1".into()), ("U2".into(), "A2".into())]
    }

    #[test]
    fn base_model_gets_one_string() {
        let prompt = assemble(ChatStyle::BaseModel, "S", &shots(), "U");
        assert_eq!(
            prompt,
            Prompt::Plain("S\n\nU1\n\nA1\n\nU2\n\nA2\n\nU\n\n".into())
        );
        let zero_shot = assemble(ChatStyle::BaseModel, "S", &[], "U");
        assert_eq!(zero_shot, Prompt::Plain("S\n\nU\n\n".into()));
    }

    #[test]
    fn no_system_role_merges_into_first_user_turn() {
        let Prompt::Chat(messages) = assemble(ChatStyle::NoSystemRole, "S", &shots(), "U") else {
            panic!("expected messages");
        };
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::User,
                Role::Assistant,
                Role::User,
                Role::Assistant,
                Role::User
            ]
        );
        assert_eq!(messages[0].content, "S\n\nU1");
        assert_eq!(messages[4].content, "U");
        let Prompt::Chat(zero_shot) = assemble(ChatStyle::NoSystemRole, "S", &[], "U") else {
            panic!("expected messages");
        };
        assert_eq!(zero_shot, [Message::new(Role::User, "S\n\nU")]);
    }

    #[test]
    fn system_role_keeps_system_first() {
        let Prompt::Chat(messages) = assemble(ChatStyle::SystemRole, "S", &shots(), "U") else {
            panic!("expected messages");
        };
        assert_eq!(messages.len(), 6);
        assert_eq!(messages[0], Message::new(Role::System, "S"));
        assert_eq!(messages[5], Message::new(Role::User, "U"));
    }
}
