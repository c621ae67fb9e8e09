"""Imaging: one image file to an RGB picture, or a readable reason why not.

:mod:`~cdir.imaging.decode` is the one decoder of cdir: ingest reads every file through it, and a
search decodes its query image through the same checks (format allow-list, size limits, EXIF
orientation, transparency on white), so a query and the gallery are never decoded differently.
Sits on the ground floor: imports nothing else of cdir.
"""
