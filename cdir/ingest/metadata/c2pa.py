"""Content credentials (C2PA manifests: PNG ``caBX`` chunk, JPEG APP11) of DALL-E / ChatGPT,
Adobe Firefly and others: the generator's name from the manifest's claim generator or software
agent, and the prompt only where the file carries one as text (a description field); C2PA
manifests of these tools hold no prompt."""

from __future__ import annotations

from cdir.ingest.metadata.result import GenerationMetadata, RawMetadata

# byte pattern in the manifest -> generator name
_AGENTS = ((b"DALL", "DALL-E"), (b"ChatGPT", "DALL-E"), (b"OpenAI", "DALL-E"),
           (b"Firefly", "Adobe Firefly"), (b"Imagen", "Google Imagen"),
           (b"Bing Image Creator", "Bing Image Creator"))
_DESCRIPTION_KEYS = ("xmp:description", "exif:ImageDescription", "Description", "iptc:caption",
                     "xmp:title", "Title")


def parse(raw: RawMetadata) -> GenerationMetadata | None:
    manifest = raw.markers.get("c2pa")
    if manifest is None:
        return None
    generator = next((name for pattern, name in _AGENTS if pattern in manifest), "C2PA")
    key = next((k for k in _DESCRIPTION_KEYS if k in raw.texts), None)
    result = GenerationMetadata(raw.texts.get(key) if key else None, None, generator,
                                {"content_credentials": "c2pa"})
    result.source = key
    return result
