"""The reasons a test may skip on CI: each says the machine already has what the test
checks the absence of.  Any other skip on CI (env CI set) fails the run (tests/conftest.py):
a missing package, display or namespace is something CI must provide."""

from __future__ import annotations

ALLOWED_SKIPS = (
    "this machine has /dev/uinput",  # tests/unit/test_input_routes.py: no uinput here
    "this user can write /dev/uinput",  # tests/integration/test_doctor.py: likewise
)


def allowed(reason: str) -> bool:
    """Whether a skip's reason is one CI may have."""
    return any(ok in reason for ok in ALLOWED_SKIPS)
