"""Digital MS phantom: the project's built-in sample data with exact ground truth.

    from mspathobiology.phantom import generate_subject, write_dataset
    subject = generate_subject(seed=0, small=True, sessions=2)
    write_dataset("out", n_subjects=1, seed=0, small=True)
"""

from .dataset import Session, Subject, generate_subject, write_dataset

__all__ = ["generate_subject", "write_dataset", "Subject", "Session"]
