"""Results say whether they ran in the locked environment (evals/provenance.py environment_against_lock)."""
from __future__ import annotations

import importlib.metadata

from evals.provenance import environment_against_lock


def test_packages_that_differ_from_the_lock_are_named(tmp_path):
    numpy = importlib.metadata.version("numpy")
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# a comment\n"
        f"numpy=={numpy}\n"
        "    # via torch\n"
        "scipy==0.0.1\n"
        "samzero-no-such-package==1.0\n"
        "torch==0.0.2 ; sys_platform == 'no-such-platform'\n"  # another platform's pin: not this run's business
    )
    report = environment_against_lock(lock)
    assert report["differs_from_lock"] == {
        "scipy": {"lock": "0.0.1", "installed": importlib.metadata.version("scipy")},
        "samzero-no-such-package": {"lock": "1.0", "installed": None},
    }
    assert len(report["lock_sha256"]) == 64
    assert environment_against_lock(tmp_path / "absent.lock") == {"lock_sha256": None, "differs_from_lock": None}
