import sys
from pathlib import Path

# The measured check reuses the bench's measurement (bench/ is a package at the repository root).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
