"""Generation metadata of images: the text containers (PNG chunks, EXIF, XMP, IPTC, sidecars), their
text encodings, and one parser per generator family. Import from the submodules
(``cdir.ingest.metadata.extract``), not from this package."""
