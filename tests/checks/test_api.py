"""The API server checks on values YAML allows but Kubernetes does not expect (a fuzz campaign's finds)."""

from __future__ import annotations

from conftest import check_text


def test_a_null_mapping_key_is_reported_not_a_crash(tmp_path):
    """A wrong value under a null key (`matchLabels: {null: 1}`) is a schema violation named as text, never an
    internal error."""
    report = check_text(tmp_path, """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          selector:
            matchLabels: {null: 1}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: registry.example.com/web:1.0.0}]
        """)
    assert any(f.check == "schema-invalid" and "matchLabels" in f.message for f in report.findings), \
        [(f.check, f.message) for f in report.findings]
