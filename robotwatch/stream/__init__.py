"""The streaming pipeline: signal frames, cycle assembly, scoring, verdicts and Kafka delivery."""
