"""Atrophy: lesion filling, brain extraction, tissue volumes, BPF, deep GM, PBVC, regional volumes."""
