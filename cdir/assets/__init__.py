"""Data shipped inside the package, so an installed ``cdir`` has it wherever it runs.

``examples/`` is the bundled example collection (drawn by ``scripts/make_examples.py``, CC0) and
``models/demo/`` the small trained model the app falls back to offline
(:mod:`cdir.models.weights` reads it as its bundled model directory). Imports nothing of cdir.
"""

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
EXAMPLES_DIR = ASSETS_DIR / "examples"
MODELS_DIR = ASSETS_DIR / "models"
