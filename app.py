"""vae_demo app (placeholder until the app issue lands)."""

if __name__ == "__main__":
    raise SystemExit("the Gradio app is not built yet; see README.md")
