"""`robotwatch alerts`: anomalous verdicts from robot.anomalies to people and systems (docs/alerts.md)."""
