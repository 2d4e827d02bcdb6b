"""The API server checks on values YAML allows but Kubernetes does not expect (a fuzz campaign's finds)."""

from __future__ import annotations

from conftest import check_text


def test_a_null_mapping_key_is_reported_not_a_crash(tmp_path):
    """A null key (`matchLabels: {null: 1}`) is what kubectl refuses the document for ("unsupported map
    key"): the document is refused, naming the key's place, never an internal error."""
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
    assert any(f.check == "manifest-invalid" and "mapping key null at spec.selector.matchLabels" in f.message
               for f in report.findings), [(f.check, f.message) for f in report.findings]


def test_a_list_of_a_million_wrong_items_is_one_bounded_report(tmp_path):
    """Validation stops after MAX_VIOLATIONS and says so; the findings that are listed point at their lines."""
    from gate.apischema.schema import MAX_VIOLATIONS

    items = "\n".join("          - 1" for _ in range(5000))
    report = check_text(tmp_path, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
                                  "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    spec:\n"
                                  "      containers:\n" + items + "\n")
    invalid = [f for f in report.findings if f.check == "schema-invalid"]
    assert len(invalid) == MAX_VIOLATIONS + 1
    assert any("validation stopped after the first 100 violations" in f.message for f in invalid)
    listed = sorted(f.line for f in invalid if "containers[" in f.message)
    assert listed == list(range(9, 9 + MAX_VIOLATIONS))  # each at its own item's line
    assert not report.passed
