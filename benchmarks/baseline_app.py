"""The benchmark's floor: a Flask app that receives a hook request, parses its JSON and answers no cards.

Served by gunicorn with exactly the settings of the service (see ``bench_hook.py``), so the
ratio service / baseline is what the service adds on top of receiving and parsing the request.
"""

from __future__ import annotations

from flask import Flask, request

app = Flask("baseline")


@app.post("/cds-services/<service_id>")
def parse_only(service_id: str):
    request.get_json()
    return {"cards": []}


@app.get("/cds-services")
def discovery():
    return {"services": []}
