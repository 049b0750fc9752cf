"""The question a chat model is asked about one batch of features."""

from __future__ import annotations

import json

PROMPT_TEMPLATE = """\
You are a domain expert helping to choose the features of a predictive model.

Task: {task}

Rate how important each feature below is for this task, from 0 (irrelevant) \
to 1 (essential). Judge each feature on its own merits.

Features (name: description):
{features}

Answer with STRICT JSON only: one object whose keys are the feature names \
exactly as quoted above and whose values are numbers between 0 and 1. No code \
fences, comments or other text.
Example of the format: {{"feature_a": 0.8, "feature_b": 0.05}}
"""
"""The prompt; part of every cache key, so editing it invalidates the cache."""


def build_prompt(
    task_description: str, names: list[str], descriptions: dict[str, str]
) -> str:
    """The prompt asking for the importance of ``names`` for the task.

    Names are written as JSON strings, so names with spaces or punctuation are
    unambiguous and can be copied into the answer as they are.
    """
    lines = []
    for name in names:
        description = descriptions.get(name)
        quoted = json.dumps(name, ensure_ascii=False)
        lines.append(f"- {quoted}: {description}" if description else f"- {quoted}")
    return PROMPT_TEMPLATE.format(task=task_description, features="\n".join(lines))
