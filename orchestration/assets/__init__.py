"""Asset definitions, one module per stage of the graph."""
