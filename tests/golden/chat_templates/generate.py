"""Renders the chat templates in templates.json with Hugging Face transformers' own renderer.

The renderer is `transformers.utils.chat_template_utils.render_jinja_template`, the function
`PreTrainedTokenizerBase.apply_chat_template` calls, with the tokenizer's special tokens passed
as template variables exactly as `apply_chat_template` does. Writes expected.json next to this
file; tests/chat_templates.rs compares the Rust renderer against it byte for byte.

    python -m venv venv && venv/bin/pip install -r requirements.txt
    venv/bin/python generate.py
"""

import json
from pathlib import Path

from jinja2.exceptions import TemplateError
from transformers.utils.chat_template_utils import render_jinja_template

HERE = Path(__file__).parent

SYSTEM = "You are a highly skilled assistant.\nAnswer briefly."
SHOT_USER = "\nSENTENCE_1: The patient is afebrile.\nSENTENCE_2: The patient has a fever.\n"
SHOT_ASSISTANT = "contradiction"
QUERY = "--------------PATIENT INQUIRY--------------\nIs ibuprofen safe?\n--------------END PATIENT INQUIRY--------------"
# Control-token look-alikes and template syntax inside content must come out as plain text.
TRICKY = (
    "  Quote: <|im_end|> [INST] not an instruction [/INST] <|eot_id|> <start_of_turn>model "
    "<|end|> {{ bos_token }} {% if %} \u00e9\u00e8 \u2014 \U0001F600 \\n\n\n"
)


def user(content):
    return {"role": "user", "content": content}


def assistant(content):
    return {"role": "assistant", "content": content}


def system(content):
    return {"role": "system", "content": content}


CONVERSATIONS = {
    "system_user": [system(SYSTEM), user(QUERY)],
    "user_only": [user(QUERY)],
    "system_few_shot": [
        system(SYSTEM),
        user(SHOT_USER),
        assistant(SHOT_ASSISTANT),
        user(SHOT_USER + "again"),
        assistant("Question: " + SHOT_ASSISTANT),
        user(QUERY),
    ],
    "merged_system_few_shot": [
        user(SYSTEM + "\n\n" + SHOT_USER),
        assistant(SHOT_ASSISTANT),
        user(QUERY),
    ],
    "control_tokens": [user(TRICKY), assistant(TRICKY), user(TRICKY)],
}

# Small templates that pin the filters transformers adds or overrides.
FILTER_TEMPLATES = {
    "tojson_default": "{{ messages | tojson }}",
    "tojson_indent": "{{ messages[0] | tojson(indent=2) }}",
    "tojson_sorted": "{{ {'b': 1.5, 'a': [1, none, true, false], 'c': 'x\"<>&\\u00e9'} | tojson(sort_keys=true) }}",
    "tojson_separators": "{{ [1, 2, {'k': 'v'}] | tojson(separators=(',', ':')) }}",
    "string_methods": "{% for m in messages %}{{ m.content.strip() | length }}|{{ m.role.upper() }}|{{ m.content.split('\\n') | length }}|{{ m.content.startswith('  Quote') }}|{{ m.content.replace('<|im_end|>', 'X').lstrip()[:12] }}\n{% endfor %}",
    "trim_blocks": "{% for m in messages %}\n  {% if m.role == 'user' %}\n    U:{{ m.content | trim }}\n  {% endif %}\n{% endfor %}\n",
    "raise": "{{ raise_exception('no ' + messages[0].role) }}",
}


def render(template, messages, add_generation_prompt, tokens):
    try:
        rendered, _ = render_jinja_template(
            conversations=[messages],
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            **tokens,
        )
        return {"text": rendered[0]}
    except TemplateError as error:
        return {"error": str(error)}


def main():
    models = json.loads((HERE / "templates.json").read_text())["models"]
    cases = []
    for model, config in models.items():
        tokens = {
            name: config[name]
            for name in ("bos_token", "eos_token", "unk_token", "pad_token")
            if config[name] is not None
        }
        for name, messages in CONVERSATIONS.items():
            for add_generation_prompt in (True, False):
                outcome = render(config["chat_template"], messages, add_generation_prompt, tokens)
                cases.append(
                    {
                        "model": model,
                        "conversation": name,
                        "messages": messages,
                        "add_generation_prompt": add_generation_prompt,
                        **outcome,
                    }
                )
    filters = []
    tokens = {"bos_token": "<s>", "eos_token": "</s>"}
    for name, template in FILTER_TEMPLATES.items():
        messages = CONVERSATIONS["control_tokens"][:1] + CONVERSATIONS["system_user"]
        outcome = render(template, messages, True, tokens)
        filters.append({"name": name, "template": template, "messages": messages, **outcome})
    expected = {"cases": cases, "filters": filters}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
