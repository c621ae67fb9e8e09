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
        "3": {"class_type": "KSampler", "inputs": {"model": ["4", 0], "positive": ["20", 0],
                                                   "negative": ["7", 0], "seed": 1}},
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
    "comfyroll int 2": {"class_type": "CR Conditioning Input Switch",
                        "inputs": {"Input": 2, "conditioning1": ["a", 0],
                                   "conditioning2": ["b", 0]}},
    "comfyroll int 1, inputs swapped": {"class_type": "CR Conditioning Input Switch",
                                        "inputs": {"Input": 1, "conditioning1": ["b", 0],
                                                   "conditioning2": ["a", 0]}},
    "impact select": {"class_type": "ImpactSwitch",
                      "inputs": {"select": 3, "sel_mode": False, "input1": ["a", 0],
                                 "input2": ["a", 0], "input3": ["b", 0]}},
    "core boolean true": {"class_type": "ComfySwitchNode",
                          "inputs": {"switch": True, "on_false": ["a", 0], "on_true": ["b", 0]}},
    "core boolean false": {"class_type": "ComfySwitchNode",
                           "inputs": {"switch": False, "on_true": ["a", 0],
                                      "on_false": ["b", 0]}},
    "impact conditional branch": {"class_type": "ImpactConditionalBranch",
                                  "inputs": {"cond": False, "tt_value": ["a", 0],
                                             "ff_value": ["b", 0]}},
    "easy-use index from 0": {"class_type": "easy anythingIndexSwitch",
                              "inputs": {"index": 1, "value0": ["a", 0], "value1": ["b", 0]}},
    "selector from a linked int primitive": {
        "class_type": "CR Conditioning Input Switch",
        "inputs": {"Input": ["30", 0], "conditioning1": ["a", 0], "conditioning2": ["b", 0]}},
    "any switch skips a muted input": {"class_type": "Any Switch (rgthree)",
                                       "inputs": {"any_01": ["muted", 0], "any_02": ["b", 0],
                                                  "any_03": ["a", 0]}},
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
    g = _graph({"class_type": "Some Switch", "inputs": {"conditioning1": ["a", 0],
                                                        "conditioning2": ["b", 0]}})
    meta = graph_metadata(g)
    assert meta is not None and meta.prompt in (USED, OTHER)


def test_a_switch_in_a_ui_workflow_reads_its_choice_widget() -> None:
    workflow = {
        "nodes": [
            {"id": 1, "type": "CLIPTextEncode", "widgets_values": [OTHER], "inputs": []},
            {"id": 2, "type": "CLIPTextEncode", "widgets_values": [USED], "inputs": []},
            {"id": 3, "type": "CLIPTextEncode", "widgets_values": [NEGATIVE], "inputs": []},
            {"id": 4, "type": "CR Conditioning Input Switch", "widgets_values": [2],
             "inputs": [{"name": "conditioning1", "link": 11},
                        {"name": "conditioning2", "link": 12}]},
            {"id": 5, "type": "KSampler", "widgets_values": [1, "fixed", 20],
             "inputs": [{"name": "positive", "link": 13}, {"name": "negative", "link": 14}]},
        ],
        "links": [[11, 1, 0, 4, 0, "CONDITIONING"], [12, 2, 0, 4, 1, "CONDITIONING"],
                  [13, 4, 0, 5, 1, "CONDITIONING"], [14, 3, 0, 5, 2, "CONDITIONING"]],
    }
    graph = workflow_graph(workflow)
    assert graph is not None
    meta = graph_metadata(graph)
    assert meta is not None and meta.prompt == USED and meta.negative_prompt == NEGATIVE
