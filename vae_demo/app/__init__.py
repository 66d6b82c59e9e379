"""The app's build: one module per tab (:mod:`vae_demo.app.tabs`, registered in order), what they share
(:mod:`vae_demo.app.common`), the page's CSS and start script (:mod:`vae_demo.app.page`, files in
``vae_demo/web``), the Blocks (:mod:`vae_demo.app.build`) and the launch (:mod:`vae_demo.app.launch`).
The root ``app.py`` is the entry point (a Space runs it)."""
