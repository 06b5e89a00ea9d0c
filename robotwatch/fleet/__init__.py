"""From a live robot to a monitored fleet: which model scores which robot (registry), and
recording a robot's own stream as training data (record)."""
