"""The policy's `dns` section and `loadBalancer` addresses: valid ones load, wrong ones name the key path."""

from __future__ import annotations

import pytest
from conftest import write

from gate.checks import CHECKS
from gate.policy import PolicyError, load_policy


def test_defaults_carry_the_dns_settings(tmp_path):
    """The shipped defaults set timeout, lifetime, onUnverifiable and Let's Encrypt's CAA identity."""
    dns = load_policy(None, CHECKS.keys(), cwd=tmp_path).settings["dns"]
    assert dns["onUnverifiable"] == "error" and dns["timeout"] > 0 and dns["lifetime"] >= dns["timeout"]
    assert dns["caaIdentities"]["acme-v02.api.letsencrypt.org"] == "letsencrypt.org"


def test_a_dns_section_merges_over_the_defaults(tmp_path):
    """A policy's dns keys replace the defaults one by one; the others stay."""
    path = write(tmp_path, "p.yaml", """
        dns:
          nameservers: [192.0.2.53, "[2001:db8::53]:5353", ns1.example.net:53]
          lifetime: 2.5
          onUnverifiable: warning
        loadBalancer: {addresses: [192.0.2.10, 2001:db8::10]}
        """)
    dns = load_policy(str(path), CHECKS.keys()).settings["dns"]
    assert dns["lifetime"] == 2.5 and dns["onUnverifiable"] == "warning" and dns["timeout"] == 2.0
    assert dns["caaIdentities"]["acme-v02.api.letsencrypt.org"] == "letsencrypt.org"


@pytest.mark.parametrize("text, where", [
    ("dns: {onUnverifiable: fatal}\n", "dns.onUnverifiable"),
    ("dns: {timeout: 0}\n", "dns.timeout"),
    ("dns: {retries: 3}\n", "dns"),
    ("dns: {nameservers: ['bad host']}\n", "dns.nameservers.0"),
    ("loadBalancer: {addresses: [lb.example.com]}\n", "loadBalancer.addresses.0"),
])
def test_wrong_dns_settings_name_the_key(tmp_path, text, where):
    """Unknown keys, wrong types and non-addresses are policy errors naming the key path."""
    path = write(tmp_path, "p.yaml", text)
    with pytest.raises(PolicyError) as error:
        load_policy(str(path), CHECKS.keys())
    assert f"{where}:" in str(error.value)
