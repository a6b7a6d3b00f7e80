"""Pure control blocks: no I/O, no wall clock, time enters as ``now`` arguments.

Each block takes a frozen pydantic config at construction (validated once, then
copied into plain attributes) and keeps its state in slotted objects, so a simulated
day of 86,400 steps costs seconds, not minutes, and every test is repeatable.
"""
