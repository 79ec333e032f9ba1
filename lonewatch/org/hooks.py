"""The hooks of the org layer: every effect of a change to people on a higher app."""

from lonewatch.core.hooks import Hook

fitness_block_recorded = Hook("fitness block recorded", doc="""
Called ``(person, *, actor)`` inside the transaction in which occupational health marks
a person unable to work alone (ORG-04). visits tells their line manager at once if a
session of theirs is running.""")
