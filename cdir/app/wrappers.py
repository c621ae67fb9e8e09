"""How the app's handlers run: expected failures shown as one line (a toast, or the API's
error), unexpected ones logged with their trace; heavy handlers holding the server's one
heavy-work slot. No gradio layout here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from cdir import api
from cdir.app import views

log = logging.getLogger(__name__)


def user_errors() -> tuple[type[BaseException], ...]:
    return (*api.user_errors(), ValueError)


def guarded(func: Callable[..., Any], on_error: Callable[[Exception], Any]) -> Callable[..., Any]:
    """``func`` with its failures handed to ``on_error``, which returns what to show instead or
    raises. A generator handler (one that updates its outputs in stages) keeps what it yielded
    already and yields ``on_error``'s answer last."""
    import functools
    import inspect

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def stages(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from func(*args, **kwargs)
            except Exception as exc:
                yield on_error(exc)

        return stages

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            return on_error(exc)

    return wrapper


def one_at_a_time(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` run while holding the server's heavy-work slot (``api.heavy_work``), shared with
    background captioning: builds, maps, evaluations and exports of all visitors take turns."""
    import functools

    @functools.wraps(func)
    def exclusive(*args: Any, **kwargs: Any) -> Any:
        with api.heavy_work():
            return func(*args, **kwargs)

    return exclusive


def as_gr_error(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into a readable message in the page instead of a stack trace."""

    def readable(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, user_errors()):  # the caller's mistake: one log line, no traceback
            log.info(
                "refused %s: %s", getattr(func, "__name__", func), views.without_paths(str(exc))
            )
            return gr.Error(views.without_paths(str(exc)), print_exception=False)
        log.exception("handler %s failed", getattr(func, "__name__", func), exc_info=exc)
        return gr.Error(
            f"Something went wrong ({type(exc).__name__}: "
            f"{views.without_paths(str(exc))}). Nothing was lost; try again or "
            "check the server log."
        )

    def reraise(exc: Exception) -> Any:
        error = readable(exc)
        if error is exc:
            raise exc
        raise error from exc

    return guarded(func, reraise)


def as_message(func: Callable[..., Any], outputs: int) -> Callable[..., Any]:
    """For the page's own events: a failure shows its one-line message (a warning toast) and
    leaves the ``outputs`` widgets as they were, instead of gradio's bare "Error" badges on
    them. Unexpected failures are logged with their stack trace and shown in one line too."""

    def failed(exc: BaseException) -> Any:
        if isinstance(exc, (gr.Error, *user_errors())):
            message = exc.message if isinstance(exc, gr.Error) else str(exc)
        else:
            log.exception("handler %s failed", getattr(func, "__name__", func), exc_info=exc)
            message = (
                f"Something went wrong ({type(exc).__name__}). Nothing was lost; try "
                "again, and if it happens again tell whoever runs this app."
            )
        gr.Warning(views.without_paths(message))
        unchanged = tuple(gr.update() for _ in range(outputs))
        return unchanged[0] if outputs == 1 else unchanged

    return guarded(func, failed)


def on(
    event: Any,
    fn: Callable[..., Any],
    inputs: Any,
    outputs: list,
    heavy: bool = False,
    follows: bool = False,
    **options: Any,
) -> Any:
    """Wire a page event, kept off the API page (``cdir.app.endpoints`` is the API); a failure
    shows its one-line message and leaves the outputs as they were. ``heavy``: a build, map,
    evaluation or export, which queues for the server's one heavy-work slot
    (``concurrency(heavy)``). ``follows``: a handler that only follows heavy work running in a
    thread of its own (a build job, which holds the slot itself): it waits in no queue.
    ``options``: more of the event listener's arguments (``trigger_mode``)."""
    handler = one_at_a_time(fn) if heavy and not follows else fn
    queue = dict(concurrency_id="follow", concurrency_limit=None) if follows else concurrency(heavy)
    return event(
        as_message(handler, len(outputs)),
        inputs,
        outputs,
        api_name=False,
        api_visibility="private",
        **queue,
        **options,
    )


def concurrency(heavy: bool) -> dict[str, Any]:
    """The queue group of an event, for every visitor together: heavy work (builds, captions,
    maps, evaluations, exports) one at a time, everything else (searches, opening, browsing)
    two at a time, the two groups side by side."""
    return (
        dict(concurrency_id="heavy", concurrency_limit=1)
        if heavy
        else dict(concurrency_id="light", concurrency_limit=2)
    )
