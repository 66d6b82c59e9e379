"""What several test modules share (no tests here):

- :mod:`.images`: synthetic images and tiny datasets in the Keras npz layout;
- :mod:`.world`: a tiny world (data for three datasets, one-epoch checkpoints of several families);
- :mod:`.tabs`: one tab's handler by name, called as Gradio would;
- :mod:`.browser`: Debian's Chromium via Playwright, and reading or driving a page;
- :mod:`.classroom`: the classroom's app (committed checkpoints, no data dir) and its browser, as fixtures;
- :mod:`.toy_codes`: a toy model family with discrete codes, registered for a test and removed after;
- :mod:`.fake_spaces`: a fake of the ``spaces`` package (the real one is tested in test_zerogpu_real).
"""
