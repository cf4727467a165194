"""Vulnerability verdicts: where gatekeeper finds them, and how it keeps them at hand.

gatekeeper does not scan. It reads what scanners produced — Trivy JSON reports in a
directory (:mod:`.directory`), a Harbor Pluggable Scanner API adapter (:mod:`.harbor`) —
keeps verdicts in a cache shared by replicas (:mod:`.cache`) and hands the newest one to
the policy core through :class:`gatekeeper.scans.gatherer.ScanVerdicts`.
"""
