"""Findings -> the per-service checklist: the item table (`items`) and the builder (`builder`)."""
