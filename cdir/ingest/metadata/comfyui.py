"""ComfyUI graphs: the API ``prompt`` graph, or only the UI ``workflow`` graph.

The positive prompt is found by following links backwards from each sampler's ``positive`` input
(guiders' ``conditioning`` when no node has one) through any node (conditioning combiners,
ControlNet appliers, reroutes) to text encoders (CLIPTextEncode, CLIPTextEncodeSDXL
``text_g``/``text_l``, Flux ``t5xxl``/``clip_l``...), whose text may itself be a link to string
nodes (primitives, concatenations, wildcard processors). Inputs named ``negative`` are never
followed for the positive prompt, and of a node that passes both (ControlNetApplyAdvanced) only
the side the link comes from is. A node that picks one of several inputs by a widget value
(switches, selectors, routers: Comfyroll's ``CR * Input Switch`` ``Input``, Impact's
``ImpactSwitch`` ``select``, ComfyUI's ``on_true``/``on_false`` switch, Easy-Use's ``index``;
the value itself maybe a link to a primitive) is followed through the selected input only; one
without a selector value ("any" switches) passes its first input whose node is in the graph
(muted and bypassed nodes are left out of the API graph). A workflow-only file is turned into
the same graph shape: links from its ``links`` table, texts from ``widgets_values``.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from cdir.ingest.metadata.comfyui_switches import (
    NOT_CONDITIONING,
    SELECTOR_KINDS,
    Graph,
    is_link,
    selected,
    selected_input,
)
from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

log = logging.getLogger(__name__)

MAX_NODES = 20_000
_ENCODER_TEXT_KEYS = ("text", "text_g", "t5xxl", "prompt", "clip_l", "text_l")
_STRING_KEYS = (
    "populated_text",
    "text",
    "value",
    "string",
    "prompt",
    "text_g",
    "t5xxl",
    "wildcard_text",
    "Text",
    "STRING",
)
_JOIN_WORDS = ("concat", "join", "combine", "append", "merge")
_DELIMITER_KEYS = ("delimiter", "separator", "sep")
_SETTING_KEYS = (
    "seed",
    "noise_seed",
    "steps",
    "cfg",
    "sampler_name",
    "scheduler",
    "denoise",
    "ckpt_name",
    "unet_name",
    "guidance",
    "width",
    "height",
    "lora_name",
)


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    """ComfyUI metadata from the ``prompt`` graph, else from the ``workflow`` graph (PNG chunks,
    EXIF tags of ComfyUI's WebP), else from a graph that a saver node put in a comment."""
    for key, to_graph in (
        ("prompt", _api_graph),
        ("workflow", workflow_graph),
        ("exif:UserComment", _any_graph),
        ("jpeg:comment", _any_graph),
    ):
        data = raw.json_object(key, "ComfyUI")
        graph = to_graph(data) if data is not None else None
        if graph:
            result = graph_metadata(graph)
            if result is not None:
                result.source = key
                return result
    return None


def _api_graph(data: dict[str, Any]) -> Graph | None:
    nodes = {
        str(k): v
        for k, v in list(data.items())[:MAX_NODES]
        if isinstance(v, dict) and isinstance(v.get("inputs", {}), dict)
    }
    return nodes if any("class_type" in n for n in nodes.values()) else None


def _any_graph(data: dict[str, Any]) -> Graph | None:
    """An API graph, a UI graph, or ``{"prompt": graph, "workflow": graph}``."""
    for key, to_graph in (("prompt", _api_graph), ("workflow", workflow_graph)):
        if isinstance(data.get(key), dict) and (graph := to_graph(data[key])):
            return graph
    return _api_graph(data) or workflow_graph(data)


def workflow_graph(workflow: dict[str, Any]) -> Graph | None:
    """The UI graph (``nodes``, ``links``, ``widgets_values``) as an API-shaped graph; the nodes
    of subgraphs (``definitions.subgraphs``) join it under ``<subgraph id>:<node id>`` keys, so
    a sampler inside a subgraph is traced within it."""
    if not isinstance(workflow.get("nodes"), list):
        return None
    graph: Graph = {}
    _add_ui_nodes(graph, workflow, "")
    definitions = workflow.get("definitions")
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
    for sub in (subgraphs if isinstance(subgraphs, list) else [])[:100]:
        if isinstance(sub, dict) and isinstance(sub.get("nodes"), list):
            _add_ui_nodes(graph, sub, f"{sub.get('id', '')}:")
    return graph or None


def _add_ui_nodes(graph: Graph, workflow: dict[str, Any], prefix: str) -> None:
    links: dict[int | str, list[Any]] = {}
    for link in workflow.get("links") or []:
        if isinstance(link, list) and len(link) >= 3 and isinstance(link[0], int | str):
            links[link[0]] = [f"{prefix}{link[1]}", link[2]]
        elif isinstance(link, dict) and isinstance(link.get("id"), int | str):
            links[link["id"]] = [f"{prefix}{link.get('origin_id')}", link.get("origin_slot", 0)]
    for node in workflow["nodes"][:MAX_NODES]:
        if not isinstance(node, dict) or "id" not in node or len(graph) >= MAX_NODES:
            continue
        kind = str(node.get("type", ""))
        inputs: dict[str, Any] = {}
        for slot in node.get("inputs") or []:
            link = slot.get("link") if isinstance(slot, dict) else None
            if isinstance(link, int | str) and link in links:
                inputs[str(slot.get("name", ""))] = links[link]
        _name_widgets(kind, node.get("widgets_values"), inputs)
        graph[f"{prefix}{node['id']}"] = {"class_type": kind, "inputs": inputs}


def _name_widgets(kind: str, widgets: Any, inputs: dict[str, Any]) -> None:
    """Give the string widgets of a UI node the input names the tracer reads."""
    if isinstance(widgets, dict):
        for key, value in widgets.items():
            inputs.setdefault(str(key), value)
        return
    if not isinstance(widgets, list):
        return
    if any(word in kind.lower() for word in SELECTOR_KINDS):  # a switch's choice widget
        choice = next((w for w in widgets if isinstance(w, bool | int)), None)
        if choice is not None:
            inputs.setdefault("select", choice)
    strings = [w for w in widgets if isinstance(w, str) and w.strip()]
    if not strings:
        return
    if _is_encoder_kind(kind):
        names = ("text_g", "text_l") if "SDXL" in kind else ("text",)
    elif "note" in kind.lower():
        names = ("note",)
    else:
        names = ("value",) if not _joins(kind) else tuple(f"text_{i}" for i in range(len(strings)))
    for name, value in zip(names, strings, strict=False):
        inputs.setdefault(name, value)


def _is_encoder_kind(kind: str) -> bool:
    return "TextEncode" in kind or "CLIPText" in kind


def _joins(kind: str) -> bool:
    lower = kind.lower()
    return any(word in lower for word in _JOIN_WORDS) and "conditioning" not in lower


# ----------------------------------------------------------------------------------- tracing
def graph_metadata(graph: Graph) -> GenerationMetadata | None:
    """Positive and negative prompt and sampler settings of an API-shaped graph, or None when
    it holds no text encoder."""
    texts = _Texts(graph)
    encoders = [key for key in graph if texts.node_text(key, True) is not None]
    if not encoders:
        return None
    starts = _inputs_named(graph, "positive") or _guider_conditioning(graph)
    negative_keys = _trace(graph, texts, _inputs_named(graph, "negative"), positive=False)
    positive_keys = _trace(graph, texts, starts, positive=True)
    if not positive_keys:  # nothing traceable: any encoder not feeding a negative input
        positive_keys = [k for k in encoders if k not in negative_keys]
    positive = _unique(texts.node_text(k, True) for k in positive_keys)
    negative = _unique(
        texts.node_text(k, False)
        for k in negative_keys
        if k not in positive_keys or _polar(graph[k].get("inputs") or {})
    )
    negative = [t for t in negative if t not in positive]
    settings = _settings(graph)
    if len(positive) > 1:
        settings["other_positive_texts"] = sorted(positive, key=len)[:-1]
    return GenerationMetadata(
        max(positive, key=len) if positive else None,
        max(negative, key=len) if negative else None,
        "ComfyUI",
        settings,
    )


def _unique(texts: Any) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t))


def _inputs_named(graph: Graph, name: str) -> list[list[Any]]:
    return [
        value for node in graph.values() if is_link(value := (node.get("inputs") or {}).get(name))
    ]


def _guider_conditioning(graph: Graph) -> list[list[Any]]:
    return [
        value
        for node in graph.values()
        if (
            "Guider" in str(node.get("class_type", ""))
            or "Sampler" in str(node.get("class_type", ""))
        )
        and is_link(value := (node.get("inputs") or {}).get("conditioning"))
    ]


def _trace(graph: Graph, texts: _Texts, starts: list[list[Any]], positive: bool) -> list[str]:
    """Keys of the text-giving nodes reached backwards from the links ``starts``."""
    found: list[str] = []
    queue: deque[list[Any]] = deque(starts)
    seen: set[tuple[str, Any]] = set()
    while queue and len(seen) < MAX_NODES:
        key, slot = str(queue[0][0]), queue[0][1]
        queue.popleft()
        if (key, slot) in seen or key not in graph:
            continue
        seen.add((key, slot))
        if texts.node_text(key, positive) is not None:
            if key not in found:
                found.append(key)
            continue
        inputs = graph[key].get("inputs") or {}
        chosen = selected_input(graph, key)
        if chosen is not None:
            inputs = {chosen: inputs[chosen]}
        both = "positive" in inputs and "negative" in inputs
        for name, value in inputs.items():
            if not is_link(value) or name in NOT_CONDITIONING:
                continue
            if both and name in ("positive", "negative"):
                if name != ("positive" if slot == 0 else "negative"):
                    continue
            elif name == "negative" and positive:
                continue
            queue.append(value)
    return found


_POSITIVE_KEYS = ("positive", "text_positive", "positive_prompt", "positive_text")
_NEGATIVE_KEYS = ("negative", "text_negative", "negative_prompt", "negative_text")
_STRING_KINDS = ("string", "text", "primitive", "prompt", "wildcard", "concat", "join")
MAX_TEXT_CHARS = 100_000
MAX_DEPTH = 200


def _polar(inputs: dict[str, Any]) -> bool:
    """Whether a node takes both a positive and a negative text (Efficient Loader, prompt
    stylers): which one it gives depends on the side it is reached from."""
    return any(k in inputs for k in _POSITIVE_KEYS) and any(k in inputs for k in _NEGATIVE_KEYS)


class _Texts:
    """The text a node gives, resolved through string nodes, memoised (a graph of shared
    concatenations costs linear time, not exponential)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.memo: dict[tuple[str, bool], str | None] = {}
        self.busy: set[str] = set()

    def node_text(self, key: str, positive: bool) -> str | None:
        """The prompt text of a text encoder, or of a node holding both prompts as text
        (its ``positive`` side when ``positive``); None for other nodes."""
        node = self.graph.get(key) or {}
        kind = str(node.get("class_type", ""))
        inputs = node.get("inputs") or {}
        if _is_encoder_kind(kind) or (
            "clip" in inputs and any(k in inputs for k in _ENCODER_TEXT_KEYS)
        ):
            return next(
                (
                    t
                    for name in _ENCODER_TEXT_KEYS
                    if (t := self.string(inputs.get(name), positive))
                ),
                None,
            )
        if _polar(inputs):
            keys = _POSITIVE_KEYS if positive else _NEGATIVE_KEYS
            values = [inputs.get(k) for k in keys]
            return next(
                (
                    t
                    for v in values
                    if (isinstance(v, str) or self._stringy(v)) and (t := self.string(v, positive))
                ),
                None,
            )
        return None

    def _stringy(self, value: Any) -> bool:
        if not is_link(value):
            return False
        kind = str((self.graph.get(str(value[0])) or {}).get("class_type", "")).lower()
        return any(word in kind for word in _STRING_KINDS) and "encode" not in kind

    def string(self, value: Any, positive: bool) -> str | None:
        """A literal string, or the string a linked node puts out."""
        if isinstance(value, str):
            return value.strip()[:MAX_TEXT_CHARS] or None
        if not is_link(value):
            return None
        key = str(value[0])
        if (key, positive) in self.memo:
            return self.memo[(key, positive)]
        if (
            key in self.busy
            or len(self.busy) > MAX_DEPTH
            or not isinstance(self.graph.get(key), dict)
        ):
            return None
        self.busy.add(key)
        try:
            text = self._node_string(self.graph[key], positive)
        finally:
            self.busy.discard(key)
        text = text[:MAX_TEXT_CHARS] if text else None
        self.memo[(key, positive)] = text
        return text

    def _node_string(self, node: dict[str, Any], positive: bool) -> str | None:
        inputs = node.get("inputs") or {}
        chosen = selected(self.graph, node)
        if chosen is not None:
            return self.string(inputs[chosen], positive)
        if _joins(str(node.get("class_type", ""))):
            return self._joined(inputs, positive)
        if _polar(inputs):
            keys = _POSITIVE_KEYS if positive else _NEGATIVE_KEYS
            return next((t for k in keys if (t := self.string(inputs.get(k), positive))), None)
        for name in _STRING_KEYS:
            if (text := self.string(inputs.get(name), positive)) is not None:
                return text
        links = [v for k, v in inputs.items() if is_link(v) and k not in NOT_CONDITIONING]
        return next((t for v in links if (t := self.string(v, positive))), None)  # reroutes

    def _joined(self, inputs: dict[str, Any], positive: bool) -> str | None:
        delimiter = next(
            (inputs[k] for k in _DELIMITER_KEYS if isinstance(inputs.get(k), str)), ", "
        )
        delimiter = delimiter.replace("\\n", "\n")
        parts = []
        for name, value in inputs.items():
            if name in _DELIMITER_KEYS or not (
                is_link(value)
                or any(word in name.lower() for word in ("text", "string", "prompt", "str"))
            ):
                continue
            if (text := self.string(value, positive)) is not None:
                parts.append(text)
        return delimiter.join(parts) or None


# ----------------------------------------------------------------------- switches, selectors
def _settings(graph: Graph) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for node in graph.values():
        for name, value in (node.get("inputs") or {}).items():
            if name in _SETTING_KEYS and isinstance(value, str | int | float):
                settings.setdefault(name, value)
    return settings
