"""``python -m vae_demo.bench``."""

import sys

from vae_demo.bench.cli import main

sys.exit(main())
