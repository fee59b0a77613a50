"""neuro-onc-cds: a CDS Hooks 2.0 service for the Dutch neuro-oncology guidelines."""

__version__ = "0.1.0"
