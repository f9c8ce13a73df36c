"""syncd: incremental, auditable table sync of dual-prevention data to the province's intermediate database."""

__version__ = "0.1.0"
