"""Maintainers' tools: the stubs made from the solutions, and `kata dev` to regenerate
or check everything generated, in the right order."""
