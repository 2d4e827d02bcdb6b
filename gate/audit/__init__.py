"""`gate audit`: the second pipeline, over the same layers as `gate check`.

sources (the live API or `kubectl get -o yaml` snapshots) -> index -> audit checks
(gate/checks/audit.py) -> decisions (policy) -> the checklist per hostname -> the same reports; and,
on request, a recovery runbook for what was found (`runbook`), written for a person to review and run.
"""
