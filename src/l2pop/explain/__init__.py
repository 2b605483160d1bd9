"""``l2pop explain``: where does reaching a target break, stage by stage (DESIGN.md §5)."""
