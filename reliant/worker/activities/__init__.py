"""Activities: every side effect of reliant's workflows. Classes hold their clients; one dataclass
in, one dataclass out."""
