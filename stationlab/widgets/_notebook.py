"""What the widgets need in a notebook (Jupyter comms) to behave as they do in a Panel app."""

from __future__ import annotations

import asyncio

import panel as pn


def take_pending_edits() -> None:
    """Let the browser's edits that came with the click being handled through first.

    In a notebook Panel's comm manager in the browser sends what happened while the kernel had
    not yet answered its last message (or within 50 ms) as one message. A slope typed goes to
    the kernel when the field is left (in JupyterLab Enter does not commit it), that is on the
    mouse-down of the click on Preview: the edit and the click then arrive together. Panel
    applies such a message with the Bokeh document held: the click's callback runs at once,
    the edits' callbacks only when the whole message is applied. Worse, the first update the
    click's callback sends back (a message, a plot) sends and forgets every held event
    (``panel.io.model.diff``), the held edits with it: their callbacks never run, and the
    kernel keeps the old value for good while the browser shows the new one (Preview: 0
    readings change; Save kept the old slope).

    Called first thing in a button's action, this does now what Panel does at the end of the
    message (``doc.unhold()``: the held edits' callbacks run, in the order they came) and holds
    the document again, so the action sees what the person typed. In a Panel app (Bokeh
    server) Panel runs a click only after the edits before it, and outside a Panel callback
    nothing is held: then it does nothing.
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is not None:
        return
    policy = doc.callbacks.hold_value
    if policy is None:
        return
    doc.unhold()
    doc.hold(policy)


def action(method: str):
    """The callable of a ``param.Action`` (a button) that runs ``method`` of the widget with
    the browser's pending edits taken first (:func:`take_pending_edits`)."""
    def run(widget):
        take_pending_edits()
        return getattr(widget, method)()

    run.__name__ = method
    return run


def after_message(callback) -> bool:
    """Run ``callback`` once the browser's message being applied is applied whole; returns
    whether it was put off (else the caller goes on at once).

    In a notebook Panel calls a widget's watchers one property at a time while it applies a
    message from the browser: a FileInput's ``value`` comes before its ``filename`` (and its
    ``mime_type``), although the browser set them together. In a Panel app (Bokeh server)
    Panel sets them together, and outside a Panel callback (a cell, a test) the caller sets
    them itself: then nothing is put off.
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is not None:
        return False
    try:
        loop = asyncio.get_running_loop()  # the kernel's, which is applying the message
    except RuntimeError:
        return False
    loop.call_soon(callback)
    return True
