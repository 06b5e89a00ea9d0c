"""The gateway SDK: what a gateway beside a robot controller calls to put its process data on
`robot.signals` as signal frames (docs/gateways.md).

    async with FrameWriter("cell-7-r1", signals, rate_hz=500, bootstrap_servers="kafka:9092") as w:
        while running:
            seq, time_ns, action, active, values = read_controller_block()
            await w.add(seq, time_ns, action, active, values)

`FrameCutter` is the part without Kafka: steps in, frames out. `robotwatch gateway check`
tells a gateway author what is wrong with the frames on a topic; `c/rwsf.h` encodes frames
in C; `opcua` bridges an OPC UA server.
"""

from robotwatch.gateway.frame_cutter import FrameCutter, GatewayError
from robotwatch.gateway.frame_writer import FrameWriter

__all__ = ["FrameCutter", "FrameWriter", "GatewayError"]
