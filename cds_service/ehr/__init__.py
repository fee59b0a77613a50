"""The EHR side of CDS Hooks, for integrators and the integration tests.

What an EHR does around a CDS service, in small pieces the ``cds-service
sandbox`` and ``load-fixtures`` commands (``cds_service/ehr_cli.py``) and the
integration tests share:

- :mod:`~cds_service.ehr.fixtures`: the bundled fixture patients, their case
  titles, date shifting to "now", and idempotent loading into a FHIR server;
- :mod:`~cds_service.ehr.fhir`: a minimal FHIR REST client (read, search with
  paging, PUT, transaction);
- :mod:`~cds_service.ehr.prefetch`: running a service's prefetch templates
  against a FHIR server, as an EHR does;
- :mod:`~cds_service.ehr.request`: building a conformant hook request;
- :mod:`~cds_service.ehr.signing`: the EHR's ES384 key, its JWKS and the JWT;
- :mod:`~cds_service.ehr.client`: discovery and service calls over HTTP;
- :mod:`~cds_service.ehr.render`: cards as readable terminal text.

Nothing here is used by the service itself at request time.
"""
