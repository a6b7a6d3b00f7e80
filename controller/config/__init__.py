"""Configuration files an operator edits: the site file and the register map."""
