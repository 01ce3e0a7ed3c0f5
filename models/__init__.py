"""The model manifest and cards (data), and the evaluation of plate readers.

`manifest.toml` names every model the box may load with its SHA-256;
`edge.alpr.registry` reads it. `evaluate` scores a backend on a labelled folder.
"""

from pathlib import Path

MANIFEST = Path(__file__).with_name("manifest.toml")
