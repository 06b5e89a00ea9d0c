"""Image anomaly detection with normalizing flows: DifferNet, CS-Flow and AST (Rudolph 2024,
chapters 4-6) on camera frames of the robot cell. See vision/README.md.

Entry points: `vision.engine.fit.fit` (train), `vision.evaluation.evaluate` (metrics),
`vision.deploy.FrameScorer` (score frames), `vision.simulate.simulate_dataset` (synthetic camera).
"""
