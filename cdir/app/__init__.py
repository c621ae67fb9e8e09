"""The web app's handlers and views: Gradio events call :class:`AppActions`
(:mod:`~cdir.app.handlers`), which calls :mod:`cdir.api` and the capabilities and returns HTML
from :mod:`~cdir.app.views`; :class:`Workspace` (:mod:`~cdir.app.workspace`) holds the saved
collections. Layout and wiring live in the repository's ``app.py``; CSS, JS and the method page in
``static/``.
"""

from cdir.app.handlers import AppActions
from cdir.app.workspace import Workspace

__all__ = ["AppActions", "Workspace"]
