"""Procedural memory: rewriting an agent's system prompt(s) from past conversations and the feedback on them.

One signature per step of the prompt optimizers in :mod:`memspy.pipelines.procedural.prompt_optimizer` and
:mod:`memspy.pipelines.procedural.multi_prompt_optimizer`:

- ``prompt_memory``: :class:`RewritePrompt` once;
- ``metaprompt``: :class:`ReflectOnPrompt` for a few rounds, then :class:`RewritePrompt` with those reflections;
- ``gradient``: :class:`ProposePromptUpdate` for a few rounds, then :class:`ApplyPromptUpdate` (skipped when no
  change is warranted);
- several prompts: :class:`AttributeFeedback` picks the prompts to change, then one of the above runs on each.
"""

from __future__ import annotations

import dspy

__all__ = ["ApplyPromptUpdate", "AttributeFeedback", "ProposePromptUpdate", "ReflectOnPrompt", "RewritePrompt"]


class RewritePrompt(dspy.Signature):
    """You look after the system prompt of an AI assistant. Read the conversations it had and the feedback on
    them, then write a better version of its prompt: keep the instructions that served users well, and add or
    change instructions so that the problems shown by the feedback, by revised answers, and by users correcting
    or repeating themselves do not happen again. Write general rules, not answers to these particular questions.
    Keep every template variable in curly braces, such as {user_name}, exactly as written, and add no new ones.
    If the conversations show nothing to improve, return the current prompt as it is."""

    current_prompt: str = dspy.InputField(desc="the system prompt the assistant uses now")
    conversations: str = dspy.InputField(desc="past conversations, each followed by the feedback on it")
    guidance: str = dspy.InputField(desc="how and when this prompt should be changed; may be empty")
    reflections: str = dspy.InputField(desc="your own earlier analysis of what to change; may be empty")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    updated_prompt: str = dspy.OutputField(desc="the complete new system prompt, and nothing else")


class ReflectOnPrompt(dspy.Signature):
    """Before an AI assistant's system prompt is rewritten, study how it performed. Find where the assistant's
    answers fell short of what users wanted or what the feedback asks for, decide which of those shortcomings
    the prompt itself could prevent, and note what the new prompt must say. Build on your earlier reflections
    instead of repeating them. Set done to true once you know what the new prompt needs."""

    current_prompt: str = dspy.InputField(desc="the system prompt the assistant uses now")
    conversations: str = dspy.InputField(desc="past conversations, each followed by the feedback on it")
    guidance: str = dspy.InputField(desc="how and when this prompt should be changed; may be empty")
    earlier_reflections: str = dspy.InputField(desc="what you concluded in earlier rounds; may be empty")
    reflection: str = dspy.OutputField(desc="new observations and critique of the current prompt")
    done: bool = dspy.OutputField(desc="true when no further reflection is needed")


class ProposePromptUpdate(dspy.Signature):
    """Diagnose an AI assistant's system prompt from its conversations and the feedback on them. First form
    hypotheses about which parts of the prompt, or which missing instructions, led to the problems users met.
    Then recommend specific, minimal edits that would fix those problems without losing what already works.
    Refine your earlier proposals if there are any. When the conversations show no problem that a change of
    prompt could fix, set change_warranted to false. Set done to true once the recommendations are final."""

    current_prompt: str = dspy.InputField(desc="the system prompt the assistant uses now")
    conversations: str = dspy.InputField(desc="past conversations, each followed by the feedback on it")
    guidance: str = dspy.InputField(desc="how and when this prompt should be changed; may be empty")
    earlier_proposals: str = dspy.InputField(desc="your proposals from earlier rounds; may be empty")
    hypotheses: str = dspy.OutputField(desc="what in the prompt caused each problem, and why")
    recommendations: str = dspy.OutputField(desc="the concrete edits to make to the prompt")
    change_warranted: bool = dspy.OutputField(desc="false when the prompt should stay as it is")
    done: bool = dspy.OutputField(desc="true when these recommendations are final")


class ApplyPromptUpdate(dspy.Signature):
    """Revise a system prompt by carrying out the recommended edits. Keep the parts the recommendations do not
    touch, write clear instructions addressed to the assistant, and keep every template variable in curly
    braces, such as {user_name}, exactly as written, adding no new ones. Return the whole revised prompt."""

    current_prompt: str = dspy.InputField(desc="the system prompt to revise")
    recommendations: str = dspy.InputField(desc="the edits to make and the reasons for them")
    guidance: str = dspy.InputField(desc="how this prompt should be changed; may be empty")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    updated_prompt: str = dspy.OutputField(desc="the complete revised system prompt, and nothing else")


class AttributeFeedback(dspy.Signature):
    """Several prompts work together in one AI system, each listed under its name with a note on when it should
    change. Read the conversations the system had and the feedback on them, work out which prompt is
    responsible for each problem, and name only the prompts that need to change, copying their names exactly.
    Name none when the system did well."""

    prompts: str = dspy.InputField(desc="the system's prompts, each under its name")
    conversations: str = dspy.InputField(desc="past conversations, each followed by the feedback on it")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    analysis: str = dspy.OutputField(desc="which problems trace back to which prompt, and why")
    prompts_to_update: list[str] = dspy.OutputField(desc="names of the prompts to change; empty when none")
