"""What robotwatch, replay and vision share, at the bottom of the import graph.

It imports none of the three: the user-error base class (one error boundary for the CLI),
the choice of device, the threshold at a target false-positive rate, and the model file
(safetensors with a JSON card, and the model id). Import the modules themselves
(`rwcore.device` needs torch; `rwcore.errors` does not).
"""
