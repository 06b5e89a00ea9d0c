"""Which channels an alert goes to: every route that matches sends it, each channel once.

A route matches on the robot id (glob; a camera frame's cell id), the source (robot, vision),
the kind (anomaly, error) and, for anomalies, the severity (score / threshold). Without
routes every channel gets every alert.
"""

from __future__ import annotations

import fnmatch

from robotwatch.alerts.facts import severity, subject
from robotwatch.alerts.settings import AlertSettings, Kind, Route
from robotwatch.stream.verdicts import Verdict


def matches(route: Route, verdict: Verdict, kind: Kind) -> bool:
    if kind not in route.kinds or verdict.source not in route.sources:
        return False
    if not any(fnmatch.fnmatchcase(subject(verdict), glob) for glob in route.robots):
        return False
    if kind == "error":
        return True  # an error has no score to compare; routes choose errors by `kinds`
    ratio = severity(verdict)
    return ratio is None or ratio >= route.min_severity  # None: a zero threshold, no ratio to judge


def channels_for(settings: AlertSettings, verdict: Verdict, kind: Kind) -> list[str]:
    if not settings.routes:
        return list(settings.channels)
    chosen: dict[str, None] = {}
    for route in settings.routes:
        if matches(route, verdict, kind):
            chosen.update(dict.fromkeys(route.channels))
    return list(chosen)
