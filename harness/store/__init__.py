"""Content-addressed artifacts with sha256 sidecars, atomic writes, resumable batch maps and progress lines.

Imports only numpy, filelock and pydantic: never torch, transformers or sklearn.
"""

from harness.store._artifacts import ArtifactStore
from harness.store._atomic import atomic_write_bytes, atomic_write_json, atomic_write_many, atomic_write_text
from harness.store._canonical import canonical_json, fingerprint
from harness.store._errors import DiskFullError, StoreError
from harness.store._paths import DATA_DIR_ENV, data_dir
from harness.store._progress import Progress
from harness.store._provenance import collect_provenance, git_state, package_versions

__all__ = [
    "DATA_DIR_ENV",
    "ArtifactStore",
    "DiskFullError",
    "Progress",
    "StoreError",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_many",
    "atomic_write_text",
    "canonical_json",
    "collect_provenance",
    "data_dir",
    "fingerprint",
    "git_state",
    "package_versions",
]
