"""Stepwise Action Reasoning: the prompt, the training target rendered from labels, and the answer parser.

The answer grammar (version :data:`GRAMMAR_VERSION`) is described in docs/GRAMMAR.md.
"""

from hieroaction.reasoning.grammar import (
    GRAMMAR_VERSION,
    SECTIONS,
    AssessedStep,
    Assessment,
    ParseResult,
    format_answer,
)
from hieroaction.reasoning.parse import completion_text, parse_assessment
from hieroaction.reasoning.prompt import SYSTEM_PROMPT, build_messages, clip_prompt, prompt_for, user_text
from hieroaction.reasoning.render import canonical_code, decode_action, expected_assessment, render_target

__all__ = [
    "GRAMMAR_VERSION",
    "SECTIONS",
    "SYSTEM_PROMPT",
    "AssessedStep",
    "Assessment",
    "ParseResult",
    "build_messages",
    "canonical_code",
    "clip_prompt",
    "completion_text",
    "decode_action",
    "expected_assessment",
    "format_answer",
    "parse_assessment",
    "prompt_for",
    "render_target",
    "user_text",
]
