"""Share the Sample strategies of tests/reasoning (test folders are not packages here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reasoning"))
