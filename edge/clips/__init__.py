"""Evidence clips cut on the box: a camera's recorded footage of a window, as one MP4 with a signed manifest.

`plan` decides on plain data (which segments, which gaps, what to say when nothing is recorded); `cut`
copies the recorded H.264 into one browser-playable MP4 (or decodes, masks and re-encodes for a camera with
privacy masks); `manifest` builds and signs `wire.evidence.Manifest` and writes the pair atomically;
`export` joins them: `export_clip` (async, for the agent) and `export_clip_blocking`; `owner` is the owner's
own export (`canvass-edge clip`); `requests` is the box's book of footage requests and their holds,
`orders` carries out the hub's clip orders (cut, sign, upload, report).
"""
