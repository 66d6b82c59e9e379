"""The app's tabs, in the order they are shown: one module each, and one line here to register it."""

from vae_demo.app.registry import Registry
from vae_demo.app.tabs import inside, interpolate, latent_map, restore, sliders, train

TABS = Registry()
TABS.register(restore.TAB)
TABS.register(sliders.TAB)
TABS.register(latent_map.TAB)
TABS.register(interpolate.TAB)
TABS.register(inside.TAB)
TABS.register(train.TAB)
