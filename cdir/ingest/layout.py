"""Which folder level of a source means the domain and which the class, guessed from the layout
as a whole.

Office-Home (``Art/Alarm_Clock/x.jpg``) and DomainNet (``clipart/aircraft_carrier/x.jpg``) put
the domain first and the class second, but uploads also come as ``p0/``, ``batch_3/`` or
``2024-05-01/`` folders that mean neither. The guess reads every image's folders at once:

- a level whose names are opaque (``p0``, ``part_2``, ``batch_3``, dates, numbers, hashes, split
  names such as ``train``) means neither; a top level with a single name that is no domain word
  is a wrapper (``OfficeHome/``) and means neither, unless exactly one meaningful level lies
  below it (``照片/猫/``: the one domain of a ``<domain>/<class>/`` tree);
- the domain is the level whose names are mostly known domain words (photo, sketch, painting,
  clipart, real, quickdraw, infograph, product, art, cartoon, render, …), or else the upper of
  two meaningful levels whose lower names repeat under several of its names (the classes of
  every domain);
- two meaningful levels without such evidence are the documented ``<domain>/<class>/``;
- the class is the next meaningful level below the domain (or the one above it, for
  ``cat/photo/``), or, without a domain, the deepest meaningful level (``p0/cat/x.jpg`` and a
  lone ``cat/x.jpg``: cat is the class).

A :class:`Layout` names the two levels (1 = the first folder); ``AUTO`` (0) lets the guess
choose, ``None`` means none. ``cdir ingest``, the API and the web app's preview all go through
:func:`guess_layout`.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cdir.ingest.source_files import SourceFile, is_junk

log = logging.getLogger(__name__)

AUTO = 0  # a level the guess chooses

DOMAIN_WORDS = frozenset(
    """photo photos photograph photography real real_world realworld real-world sketch sketches
    pencil drawing drawings painting paintings oil watercolor watercolour clipart clip_art
    clip-art quickdraw quick_draw infograph infographic product products art artistic cartoon
    cartoons comic anime render renders rendering render3d 3d 3d_render cgi silhouette silhouettes
    graffiti tattoo origami sculpture toy toys plastic videogame video_game embroidery deviantart
    sticker stickers icon icons logo logos pixel pixelart pixel_art line lineart line_art ink
    amazon dslr webcam synthetic syn midjourney stable_diffusion sd dalle ai generated
    ai_generated""".split()
)
_OPAQUE = re.compile(
    r"""(?ix)
    ( p | part | batch | chunk | shard | set | run | folder | dir | split | page | group | img
    | images? | data | files? | upload | uploads | new | misc | tmp | temp | copy | v | version
    | round | seed | job | sample | samples )?[ _-]?\d+[a-z]?   # p0, batch_3, part-2, 017
    | \d{4}[-_.]?\d{2}([-_.]?\d{2})?([ t_-]?\d{2}[-_.:]?\d{2}([-_.:]?\d{2})?)?  # dates, times
    | [0-9a-f]{8,} | [0-9a-f-]{36}                                            # hashes, uuids
    | train | training | val | valid | validation | test | testing | dev | all | images | imgs
    | img | pics | pictures | data | files | uploads | misc | other | new | tmp
    """
)


@dataclass(frozen=True)
class Layout:
    """The folder levels (1 = the first folder of a file's path) that give the domain and the
    class; ``None``: none; :data:`AUTO` (0): guess it."""

    domain_level: int | None = AUTO
    class_level: int | None = AUTO

    def labels(self, rel_path: str) -> tuple[str | None, str | None, str | None]:
        """(domain, class, label_source) of a file: the folder names at the two levels (a level
        deeper than the file's folders gives nothing); label_source "folder" with a class."""
        folders = PurePosixPath(rel_path).parts[:-1]
        domain = _at(folders, self.domain_level)
        label = _at(folders, self.class_level)
        return domain, label, "folder" if label is not None else None


@dataclass(frozen=True)
class LayoutGuess:
    """What a layout gives for a set of files: the layout chosen, the images, the domains found
    and the number of classes, and each folder level's names (for choosing another)."""

    layout: Layout
    images: int
    domains: tuple[str, ...]
    classes: int
    levels: tuple[tuple[str, ...], ...]  # levels[i]: the names at level i + 1, sorted

    def describe(self) -> str:
        """One line: "domains: photo, sketch (from level 1); classes: 12 (from level 2);
        240 images"."""
        d, c = self.layout.domain_level, self.layout.class_level
        shown = ", ".join(self.domains[:8]) + (", …" if len(self.domains) > 8 else "")
        domains = f"domains: {shown} (from level {d})" if d else "domains: none from folders"
        classes = f"classes: {self.classes} (from level {c})" if c else "classes: none from folders"
        images = f"{self.images} image" + ("" if self.images == 1 else "s")
        return f"{domains}; {classes}; {images}"


def guess_layout(rel_paths: Iterable[str], chosen: Layout = Layout()) -> LayoutGuess:
    """The layout of files named by ``rel_paths`` (paths inside their source, ``/``-separated):
    the levels of ``chosen`` where given, the guess (see the module docstring) where
    :data:`AUTO`. Raises ValueError (one line) for a level the files do not have, or the same
    level for both."""
    paths = [PurePosixPath(p).parts[:-1] for p in rel_paths]
    depth = max((len(p) for p in paths), default=0)
    names: list[set[str]] = [set() for _ in range(depth)]
    for folders in paths:
        for level, name in enumerate(folders):
            names[level].add(name)
    _check(chosen, depth)
    guessed = _guess(paths, names)
    layout = Layout(
        guessed.domain_level if chosen.domain_level == AUTO else chosen.domain_level,
        guessed.class_level if chosen.class_level == AUTO else chosen.class_level,
    )
    if layout.domain_level is not None and layout.domain_level == layout.class_level:
        layout = Layout(layout.domain_level, None)  # the guess gives way to the level chosen
    domains = {_at(p, layout.domain_level) for p in paths} - {None}
    classes = {_at(p, layout.class_level) for p in paths} - {None}
    return LayoutGuess(
        layout,
        len(paths),
        tuple(sorted(str(d) for d in domains)),
        len(classes),
        tuple(tuple(sorted(level)) for level in names),
    )


def relabel(files: Sequence[SourceFile], chosen: Layout = Layout()) -> LayoutGuess:
    """Label ``files`` (SourceFiles) by the layout of their rel_paths, except the labels a
    manifest gave them; returns the guess."""
    guess = guess_layout([f.layout_path or f.rel_path for f in files], chosen)
    for file in files:
        domain, label, source = guess.layout.labels(file.layout_path or file.rel_path)
        if "domain" not in file.from_manifest:
            file.domain = domain
        if "class" not in file.from_manifest:
            file.label, file.label_source = label, source
    log.info("layout: %s", guess.describe())
    return guess


def listed_rel_paths(sources: Sequence[str | Path]) -> list[str]:
    """The rel_paths an ingest of ``sources`` would label by their folders, read without
    extracting anything: the images of folders (walked) and zips (their listing). Loose image
    files have no folders and are left out; so are 🤗 datasets (their labels are columns)."""
    import os
    import zipfile

    from cdir.imaging.decode import is_image_name
    from cdir.ingest.archives import is_zip_name

    rels: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            for top, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not is_junk(d)]
                rel_top = Path(top).relative_to(path)
                rels += [
                    (rel_top / f).as_posix() for f in files if is_image_name(f) and not is_junk(f)
                ]
        elif path.is_file() and is_zip_name(path.name):
            try:
                with zipfile.ZipFile(path) as zf:
                    members = zf.namelist()
            except (OSError, zipfile.BadZipFile):
                continue  # the ingest says why
            rels += [
                m
                for m in members
                if not m.endswith("/")
                and is_image_name(m)
                and not any(is_junk(part) for part in PurePosixPath(m).parts)
            ]
    return rels


def opaque(name: str) -> bool:
    """True for a folder name that means neither domain nor class (p0, batch_3, 2024-05-01)."""
    return not domain_word(name) and bool(_OPAQUE.fullmatch(name.strip()))


def domain_word(name: str) -> bool:
    key = re.sub(r"[\s-]+", "_", name.strip().lower())
    return key in DOMAIN_WORDS or key.rstrip("s") in DOMAIN_WORDS


def _at(folders: Sequence[str], level: int | None) -> str | None:
    if not level or level > len(folders):
        return None
    return folders[level - 1]


def _check(chosen: Layout, depth: int) -> None:
    for what, level in (("domain", chosen.domain_level), ("class", chosen.class_level)):
        if level is not None and not 0 <= level <= max(depth, 0):
            raise ValueError(
                f"no folder level {level} for the {what}: these images lie at most {depth} "
                "folders deep; choose a level from 1 to that, or none"
            )
    if chosen.domain_level and chosen.domain_level == chosen.class_level:
        raise ValueError(
            "the domain and the class cannot come from the same folder level; choose two "
            "levels, or none for one of them"
        )


def _guess(paths: list[tuple[str, ...]], names: list[set[str]]) -> Layout:
    meaningful = [
        level for level, found in enumerate(names, start=1) if not all(opaque(n) for n in found)
    ]
    top = names[0] if names else set()
    if meaningful[:1] == [1] and len(top) == 1 and not domain_word(next(iter(top))):
        if len(meaningful) != 2:  # one name over all: a wrapper, unless it is the one domain
            meaningful = meaningful[1:]  # of a <domain>/<class>/ tree (照片/猫/)
    domain = _domain_level(paths, names, meaningful)
    if domain is None and len(meaningful) >= 2:
        domain = meaningful[0]  # no evidence either way: the documented <domain>/<class>/
    if domain is None:
        return Layout(None, meaningful[-1] if meaningful else None)
    below = [level for level in meaningful if level > domain]
    above = [level for level in meaningful if level < domain]
    return Layout(domain, below[0] if below else (above[-1] if above else None))


def _domain_level(
    paths: list[tuple[str, ...]], names: list[set[str]], meaningful: list[int]
) -> int | None:
    """The level of known domain words, or the upper level of a pair whose lower names repeat
    under several of its names; None when no level reads as domains."""
    for level in meaningful:
        found = names[level - 1]
        words = sum(domain_word(n) for n in found)
        if words and words * 2 >= len(found):
            return level
    for upper, lower in zip(meaningful, meaningful[1:], strict=False):
        if len(names[upper - 1]) < 2:
            continue
        parents: dict[str, set[str]] = defaultdict(set)
        for folders in paths:
            if len(folders) >= lower:
                parents[folders[lower - 1]].add(folders[upper - 1])
        shared = sum(len(p) >= 2 for p in parents.values())
        if parents and shared * 2 >= len(parents):
            return upper
    return None
