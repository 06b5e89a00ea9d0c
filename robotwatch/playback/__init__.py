"""`robotwatch replay`: a recorded voraus-AD file through the service's pipeline, in process
(`embedded`) or as signal frames to Kafka (`publisher`), and what it found (`summary`)."""
