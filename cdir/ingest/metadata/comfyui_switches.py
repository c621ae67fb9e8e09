"""Switches and selectors of a ComfyUI graph: a node that picks one of several inputs by a widget
value (Comfyroll's ``CR * Input Switch`` ``Input``, Impact's ``ImpactSwitch`` ``select``,
ComfyUI's ``on_true``/``on_false`` switch, Easy-Use's ``index``; the value itself maybe a link to
a primitive) passes on the selected input only; one without a selector value ("any" switches)
passes its first input whose node is in the graph. :mod:`cdir.ingest.metadata.comfyui` follows
prompts through them.
"""

from __future__ import annotations

import re
from typing import Any

Graph = dict[str, dict[str, Any]]


# Inputs that carry no text towards a prompt: followed nowhere.
NOT_CONDITIONING = {
    "model",
    "clip",
    "vae",
    "image",
    "images",
    "pixels",
    "latent",
    "latent_image",
    "samples",
    "mask",
    "control_net",
    "upscale_model",
    "clip_vision",
    "clip_vision_output",
    "style_model",
    "noise",
    "sigmas",
    "sampler",
    "unet",
    "lora",
}

SELECTOR_KINDS = (
    "switch",
    "select",
    "router",
    "toggle",
    "mux",
    "branch",
    "index",
    "pick",
    "choose",
    "choice",
)
# Inputs holding the choice (a number, a boolean, or an input's name), first found is used.
_SELECT_KEYS = (
    "select",
    "selected",
    "selector",
    "selection",
    "Input",
    "input",
    "index",
    "switch",
    "boolean",
    "cond",
    "condition",
    "choice",
    "choose",
    "mode",
    "active",
    "enabled",
    "use",
    "value",
    "which",
    "input_index",
    "Switch",
    "Index",
    "Select",
)
_SCALAR_KEYS = (
    "value",
    "int",
    "boolean",
    "number",
    "Number",
    "INT",
    "BOOLEAN",
    "bool",
    "select",
    "Input",
    "index",
    "string",
    "STRING",
    "text",
)
_NUMBER = re.compile(r"(\d+)$")


def selected_input(graph: Graph, key: str) -> str | None:
    """The name of the input that the node ``key`` passes on when it is a switch or selector;
    None when it is not one (every input is followed then)."""
    node = graph.get(key)
    return selected(graph, node) if isinstance(node, dict) else None


def selected(graph: Graph, node: dict[str, Any]) -> str | None:
    kind = str(node.get("class_type", "")).lower()
    if not any(word in kind for word in SELECTOR_KINDS):
        return None
    inputs = node.get("inputs") or {}
    selector = next(
        (k for k in _SELECT_KEYS if k in inputs and _scalar(graph, inputs[k], 0) is not None), None
    )
    candidates = [
        name
        for name, value in inputs.items()
        if name != selector
        and name not in NOT_CONDITIONING
        and (
            is_link(value)
            or (isinstance(value, str) and name.lower() not in ("delimiter", "separator", "sep"))
        )
    ]
    if not candidates:
        return None
    if selector is None:  # "any" switch: its first input present in the graph
        linked = [c for c in candidates if is_link(inputs[c]) and str(inputs[c][0]) in graph]
        return min(linked, key=_order) if linked and "any" in kind else None
    return _pick(candidates, _scalar(graph, inputs[selector], 0))


def _order(name: str) -> tuple[int, str]:
    found = _NUMBER.search(name)
    return (int(found.group(1)) if found else 1 << 30, name)


def _pick(candidates: list[str], choice: bool | int | str) -> str | None:
    if isinstance(choice, bool):
        word = "true" if choice else "false"
        named = [
            c for c in candidates if word in c.lower() or c.lower().startswith(word[0] * 2 + "_")
        ]  # Impact's tt_value / ff_value
        if named:
            return named[0]
        numbered = sorted(candidates, key=_order)
        return numbered[0 if choice else 1] if len(numbered) > 1 else None
    if isinstance(choice, str):
        if choice in candidates:
            return choice
        if not choice.strip().lstrip("-").isdigit():
            return None
        choice = int(choice)
    numbered = {int(m.group(1)): c for c in candidates if (m := _NUMBER.search(c))}
    return numbered.get(choice)


def _scalar(graph: Graph, value: Any, depth: int) -> bool | int | str | None:
    """A selector value: a literal int / bool / string, or what a primitive node linked to it
    holds (followed through reroutes)."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value if value.strip() else None
    if not is_link(value) or depth > 20:
        return None
    node = graph.get(str(value[0]))
    if not isinstance(node, dict):
        return None
    inputs = node.get("inputs") or {}
    for name in _SCALAR_KEYS:
        if name in inputs and (found := _scalar(graph, inputs[name], depth + 1)) is not None:
            return found
    return None


def is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
    )
