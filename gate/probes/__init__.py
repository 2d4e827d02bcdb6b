"""Network probes: many questions asked concurrently, answers (failures included) returned as values."""
