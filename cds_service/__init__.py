"""neuro-onc-cds: a CDS Hooks 2.0 service for the Dutch neuro-oncology guidelines."""

from cds_service import resources as _resources

__version__ = "0.1.0"

_resources.install()  # a source checkout: find mappings/, cards/, fixtures/ at the repository root
