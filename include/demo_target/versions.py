"""The deployable versions of the demo target: what a canary can roll out and roll back.

A version is chosen by ``APP_VERSION`` in a replica's env file (the stand-in for an image tag).
Each known release may carry a behaviour of its own, so a launch can be tried against a healthy
new version and against one with a regression that only shows under real load.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    """version: the tag. overload_rps: above this many requests a second on one replica the
    release misbehaves (0 = never). overload_error_rate: the share of requests that then fail with
    500. note: what changed, as a release note would say."""

    version: str
    overload_rps: float = 0.0
    overload_error_rate: float = 0.0
    note: str = ""


RELEASES: dict[str, Release] = {
    release.version: release
    for release in (
        Release("1.0.0", note="the stable release"),
        Release("1.1.0", note="healthy update: cached project listings"),
        Release("1.2.0", overload_rps=6.0, overload_error_rate=0.25,
                note="regression: the results serializer fails under concurrent load"),
    )
}
STABLE_VERSION = "1.0.0"


def release_for(version: str) -> Release:
    """The release of ``version``; an unknown tag behaves like a plain healthy build."""
    return RELEASES.get(version, Release(version))
