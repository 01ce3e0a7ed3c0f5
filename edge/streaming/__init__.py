"""Streaming: WebRTC sessions to the hub, opened only under a grant the box accepted.

`streamer` runs the sessions; `tracks` sends the camera's own H.264 packets,
live from the fan-out or recorded from `playback`; `masks` paints out the
owner's privacy masks (the only transcode path).
"""
