"""One run: the CLI (`python -m adamixbench`), the warm engine server, the training loop, checkpoints,
distributed set-up, the optimiser, input validation, rescoring and the run record. Only this room and
`adamixbench.__main__` import it."""
