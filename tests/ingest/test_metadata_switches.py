"""ComfyUI nodes that pick one of several inputs by a widget value: the prompt is read through
the selected input only, whatever the switch's family, the selector's type and where it sits
(conditioning or text, literal or a linked primitive, API graph or UI workflow)."""

from __future__ import annotations

from typing import Any

import pytest

from cdir.ingest.metadata.comfyui import graph_metadata, workflow_graph

USED = "a small wooden cabin in the snow at night"
OTHER = "an ornate baroque cathedral interior with golden light rays, marble columns, 8k"
NEGATIVE = "blurry, lowres"


def _graph(switch: dict[str, Any], texts_are_strings: bool = False) -> dict[str, Any]:
    """KSampler.positive <- switch; the switch's inputs name nodes "a" (OTHER) and "b" (USED)."""
    g: dict[str, Any] = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": NEGATIVE, "clip": ["4", 1]}},
        "3": {
            "class_type": "KSampler",
            "inputs": {"model": ["4", 0], "positive": ["20", 0], "negative": ["7", 0], "seed": 1},
        },
    }
    if texts_are_strings:
        g["a"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": OTHER}}
        g["b"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": USED}}
        g["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": ["20", 0], "clip": ["4", 1]}}
        g["3"]["inputs"]["positive"] = ["6", 0]
    else:
        g["a"] = {"class_type": "CLIPTextEncode", "inputs": {"text": OTHER, "clip": ["4", 1]}}
        g["b"] = {"class_type": "CLIPTextEncode", "inputs": {"text": USED, "clip": ["4", 1]}}
    g["20"] = switch
    return g


SWITCHES = {
    "comfyroll int 2": {
        "class_type": "CR Conditioning Input Switch",
        "inputs": {"Input": 2, "conditioning1": ["a", 0], "conditioning2": ["b", 0]},
    },
    "comfyroll int 1, inputs swapped": {
        "class_type": "CR Conditioning Input Switch",
        "inputs": {"Input": 1, "conditioning1": ["b", 0], "conditioning2": ["a", 0]},
    },
    "impact select": {
        "class_type": "ImpactSwitch",
        "inputs": {
            "select": 3,
            "sel_mode": False,
            "input1": ["a", 0],
            "input2": ["a", 0],
            "input3": ["b", 0],
        },
    },
    "core boolean true": {
        "class_type": "ComfySwitchNode",
        "inputs": {"switch": True, "on_false": ["a", 0], "on_true": ["b", 0]},
    },
    "core boolean false": {
        "class_type": "ComfySwitchNode",
        "inputs": {"switch": False, "on_true": ["a", 0], "on_false": ["b", 0]},
    },
    "impact conditional branch": {
        "class_type": "ImpactConditionalBranch",
        "inputs": {"cond": False, "tt_value": ["a", 0], "ff_value": ["b", 0]},
    },
    "easy-use index from 0": {
        "class_type": "easy anythingIndexSwitch",
        "inputs": {"index": 1, "value0": ["a", 0], "value1": ["b", 0]},
    },
    "selector from a linked int primitive": {
        "class_type": "CR Conditioning Input Switch",
        "inputs": {"Input": ["30", 0], "conditioning1": ["a", 0], "conditioning2": ["b", 0]},
    },
    "any switch skips a muted input": {
        "class_type": "Any Switch (rgthree)",
        "inputs": {"any_01": ["muted", 0], "any_02": ["b", 0], "any_03": ["a", 0]},
    },
}


@pytest.mark.parametrize("name", list(SWITCHES))
@pytest.mark.parametrize("texts_are_strings", [False, True], ids=["conditioning", "text"])
def test_the_selected_input_gives_the_prompt(name: str, texts_are_strings: bool) -> None:
    g = _graph(SWITCHES[name], texts_are_strings)
    g["30"] = {"class_type": "PrimitiveInt", "inputs": {"value": 2}}
    meta = graph_metadata(g)
    assert meta is not None
    assert meta.prompt == USED
    assert meta.negative_prompt == NEGATIVE
    assert OTHER not in str(meta.settings)


def test_a_switch_without_a_readable_choice_still_gives_a_prompt() -> None:
    g = _graph(
        {
            "class_type": "Some Switch",
            "inputs": {"conditioning1": ["a", 0], "conditioning2": ["b", 0]},
        }
    )
    meta = graph_metadata(g)
    assert meta is not None and meta.prompt in (USED, OTHER)


def test_a_switch_in_a_ui_workflow_reads_its_choice_widget() -> None:
    workflow = {
        "nodes": [
            {"id": 1, "type": "CLIPTextEncode", "widgets_values": [OTHER], "inputs": []},
            {"id": 2, "type": "CLIPTextEncode", "widgets_values": [USED], "inputs": []},
            {"id": 3, "type": "CLIPTextEncode", "widgets_values": [NEGATIVE], "inputs": []},
            {
                "id": 4,
                "type": "CR Conditioning Input Switch",
                "widgets_values": [2],
                "inputs": [
                    {"name": "conditioning1", "link": 11},
                    {"name": "conditioning2", "link": 12},
                ],
            },
            {
                "id": 5,
                "type": "KSampler",
                "widgets_values": [1, "fixed", 20],
                "inputs": [{"name": "positive", "link": 13}, {"name": "negative", "link": 14}],
            },
        ],
        "links": [
            [11, 1, 0, 4, 0, "CONDITIONING"],
            [12, 2, 0, 4, 1, "CONDITIONING"],
            [13, 4, 0, 5, 1, "CONDITIONING"],
            [14, 3, 0, 5, 2, "CONDITIONING"],
        ],
    }
    graph = workflow_graph(workflow)
    assert graph is not None
    meta = graph_metadata(graph)
    assert meta is not None and meta.prompt == USED and meta.negative_prompt == NEGATIVE


# ------------------------------------------------------------------ the selector rules, one by one
from cdir.ingest.metadata.comfyui_switches import selected_input  # noqa: E402


def _one(kind: str, **inputs: Any) -> str | None:
    graph = {
        "n": {"class_type": kind, "inputs": inputs},
        "a": {"class_type": "X", "inputs": {}},
        "b": {"class_type": "X", "inputs": {}},
        "c": {"class_type": "X", "inputs": {}},
    }
    return selected_input(graph, "n")


def test_a_node_that_is_no_switch_is_followed_whole() -> None:
    assert _one("KSampler", index=1, input1=["a", 0], input2=["b", 0]) is None
    assert selected_input({}, "missing") is None
    assert selected_input({"n": ["not", "a", "node"]}, "n") is None


@pytest.mark.parametrize(
    "choice,expected",
    [
        (1, "text1"),
        (2, "text2"),
        (2.0, "text2"),
        ("2", "text2"),
        (" 1 ", "text1"),
        ("text2", "text2"),
        (3, None),
        ("-1", None),
        ("abc", None),
        ("   ", None),
        (True, "text1"),
        (False, "text2"),
    ],
)
def test_choices_of_a_text_switch(choice: Any, expected: str | None) -> None:
    assert (
        _one("Text Input Switch", select=choice, text1="alpha", text2="beta", delimiter=", ")
        == expected
    )


@pytest.mark.parametrize("name", ["delimiter", "separator", "sep"])
def test_a_delimiter_is_never_a_choice(name: str) -> None:
    assert _one("Text Switch", select=name, text1="alpha", **{name: ", "}) is None


def test_a_boolean_needs_two_inputs_when_none_is_named_true_or_false() -> None:
    assert _one("Boolean Switch", boolean=False, input1=["a", 0]) is None
    assert _one("Boolean Switch", boolean=True, input2=["b", 0], input1=["a", 0]) == "input1"
    assert _one("Boolean Switch", boolean=False, input2=["b", 0], input1=["a", 0]) == "input2"


def test_any_switch_order_is_by_number_and_needs_any() -> None:
    assert _one("Any Switch", any_10=["a", 0], any_2=["b", 0]) == "any_2"
    assert _one("Any Switch", any=["a", 0], any_01=["b", 0]) == "any_01"
    assert _one("Any Switch", any_01=["gone", 0], any_02=["c", 0]) == "any_02"
    assert _one("Conditioning Switch", input1=["a", 0], input2=["b", 0]) is None


def test_selector_through_primitives_and_cycles() -> None:
    graph = {
        "n": {
            "class_type": "CR Text Input Switch",
            "inputs": {"Input": ["p", 0], "text1": "alpha", "text2": "beta"},
        },
        "p": {"class_type": "Reroute", "inputs": {"value": ["q", 0]}},
        "q": {"class_type": "PrimitiveInt", "inputs": {"int": 2}},
    }
    assert selected_input(graph, "n") == "text2"
    graph["q"]["inputs"] = {"value": ["p", 0]}  # a cycle: no choice, no endless loop
    assert selected_input(graph, "n") is None
    chain = {
        f"r{i}": {"class_type": "Reroute", "inputs": {"value": [f"r{i + 1}", 0]}} for i in range(40)
    }
    chain["r40"] = {"class_type": "PrimitiveInt", "inputs": {"value": 1}}
    chain["n"] = {"class_type": "Switch", "inputs": {"select": ["r0", 0], "text1": "a"}}
    assert selected_input(chain, "n") is None  # deeper than any real graph: not followed
    chain["n"]["inputs"]["select"] = ["r25", 0]
    assert selected_input(chain, "n") == "text1"
