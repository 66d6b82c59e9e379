"""Calling one tab's handler by name, as Gradio would, without a server."""

from __future__ import annotations


def tab_handler(ctx, tab, name: str):
    """The handler called ``name`` of ``tab``'s page (built for this test), as Gradio would call it."""
    import gradio as gr

    with gr.Blocks() as demo:
        ctx.current, ctx.dataset, ctx.models_version = gr.State(None), gr.Radio(["mnist"], value="mnist"), gr.State(0)
        tab.build(ctx)
    d = next(d for d in demo.fns.values() if d.fn is not None and d.fn.__name__ == name)

    def positional(*args):  # the handler's outputs by component, in the event's output order
        out = d.fn(*args)
        return [out.get(c, gr.skip()) for c in d.outputs] if isinstance(out, dict) and "__type__" not in out \
            else out

    return positional
