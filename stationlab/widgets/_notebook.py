"""What the widgets need in a notebook (Jupyter comms) to behave as they do in a Panel app."""

from __future__ import annotations

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
