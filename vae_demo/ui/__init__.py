"""The Gradio UI: one small module per tab, wiring components to :mod:`vae_demo.services`."""
