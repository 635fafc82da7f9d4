"""Beam wiring of the corpus job: reading, the adapter DoFns that count every outcome, shuffles and writers."""
