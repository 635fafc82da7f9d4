"""Pure per-document steps of the corpus job: no Beam import, no global state, no I/O beyond model files handed in."""
