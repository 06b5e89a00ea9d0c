"""Speed figures behind `robotwatch bench`: measured side by side in one run, never asserted in tests."""
