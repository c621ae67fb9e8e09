"""Easy Diffusion and other tools writing one PNG text chunk per field: ``prompt`` (plain text),
``negative_prompt``, ``seed``, ``use_stable_diffusion_model``, ... (keys in any letter case)."""

from __future__ import annotations

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

_PROMPT_KEYS = ("prompt", "Prompt", "positive_prompt")
_NEGATIVE_KEYS = ("negative_prompt", "Negative Prompt", "negative prompt", "Negative prompt")
_SETTING_KEYS = (
    "seed",
    "use_stable_diffusion_model",
    "sampler_name",
    "num_inference_steps",
    "guidance_scale",
    "width",
    "height",
    "use_vae_model",
    "Seed",
    "Steps",
)


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    prompt_key = next((k for k in _PROMPT_KEYS if k in raw.texts), None)
    if prompt_key is None or raw.texts[prompt_key].lstrip().startswith(("{", "[")):
        return None
    negative = raw.get(*_NEGATIVE_KEYS)
    settings = {k: raw.texts[k] for k in _SETTING_KEYS if k in raw.texts}
    if negative is None and not settings:
        return None  # a lone "prompt" chunk: left to the plain-description fallback
    generator = "Easy Diffusion" if "use_stable_diffusion_model" in raw.texts else None
    return GenerationMetadata(
        raw.texts[prompt_key], negative, generator, settings, source=prompt_key
    )
