"""pytest plugin fixtures cloud/client with the project's ini option (functions/app.py:app)."""


def test_plugin_fixtures(cloud, client):
    assert client is not None
    h = client.start("enrich-lead", {"id": "l1", "name": "Ada", "email": "ada@example.com", "domain": "example.com"})
    assert h.result() is not None
