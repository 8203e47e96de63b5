"""Make the shared Sample strategies importable (pytest runs in importlib mode; test folders are not packages)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
