"""MTS-Flow offline, stage by stage (thesis §8.1):

data        a model's cycles from a voraus-AD file: rate, signals, z-score, padding
network     the normalizing flow itself (torch modules) and its plain reference
fit         training and threshold calibration, reporting through a progress callback
score       Scorer.score_cycles: the one way a cycle gets its score and events
localize    events from the input gradient of the score
presets     thesis or recommended: how a trained flow scores a cycle
recommended_score  the recommended preset's score and first event
model_file  the .rwmodel file
"""
