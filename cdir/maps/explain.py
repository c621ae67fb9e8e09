"""The map in one plain sentence, for someone who has never heard of an embedding: what a dot is,
what being close means for the chosen projection, and what the colours show."""

from __future__ import annotations

from cdir.maps.collection_map import COLOR_BY, METHOD_NAMES, VECTOR_KINDS

CLOSE = {
    "image": "images the model sees as similar sit close together",
    "caption": "images whose captions say similar things sit close together",
}
METHOD_NOTE = {
    "umap": (
        "UMAP keeps each image near its closest look-alikes, so groups are meaningful but the "
        "distance between two groups means little"
    ),
    "tsne": (
        "t-SNE keeps each image near its closest look-alikes, so groups are meaningful but "
        "their sizes and the gaps between them mean little"
    ),
    "pca": (
        "PCA flattens the collection along its two main directions, so far-apart dots differ "
        "most, but different images can land on top of each other"
    ),
}
COLOUR_NOTE = {
    "domain": "colour shows each image's domain: how it is made (a photo, a sketch, a painting …)",
    "class": "colour shows each image's class: what it shows (a dog, a house, a boat …)",
    "cluster": (
        "colour shows the group the map's dots fall into, each named in the legend by the "
        "words its images' captions use most"
    ),
}
NAMED_NOTE = " The boxed names sum up each group's captions; a thin line joins a name to its group."


def map_caption(
    method: str, vectors: str = "image", color_by: str = "domain", named: bool = False
) -> str:
    """One sentence saying what the map of ``method`` (umap, tsne, pca) over ``vectors`` (image,
    caption) coloured by ``color_by`` (domain, class, cluster) shows; ``named``: the clusters'
    names are drawn on it too. Raises ValueError for an unknown method, vectors or colouring."""
    for value, known, what in (
        (method, METHOD_NAMES, "projection"),
        (vectors, VECTOR_KINDS, "embeddings"),
        (color_by, COLOR_BY, "colouring"),
    ):
        if value not in known:
            raise ValueError(f"unknown map {what} {value!r}: use one of {', '.join(known)}")
    sentence = (
        f"Each dot is one image; {CLOSE[vectors]} ({METHOD_NOTE[method]}); {COLOUR_NOTE[color_by]}."
    )
    return sentence + (NAMED_NOTE if named else "")
